//! `gantry export` of a text-to-image (StackGAN) run: its caption encoder and its generators,
//! for PyTorch without gantry.
//!
//! - `--format safetensors` (`STEM.safetensors`, `STEM.py`): plain `nn.Module`s — the
//!   tokeniser and word GRUs of gantry's text encoder, each stage's conditioning augmentation
//!   and generator — with `sample(captions, n)` and `forward(embeddings, noise)`.
//! - TorchScript (`STEM.pt`, `STEM-text.pt`): the generator, `forward(x)` with
//!   `x = cat(embedding, noise)` returning the last stage's images, and the caption encoder,
//!   `forward(ids)` of word ids (0 pads; the vocabulary is the module's `vocab` attribute).
//!
//! The noise is N(0, I) of `noise_dim` columns: z, then the ε of each stage's conditioning
//! augmentation (Stage I's, then Stage II's), as `gantry sample --latents-npy` writes it.
use crate::error::{Error, Result};
use crate::export_py::READER;
use crate::export_trace::write_module;
use crate::method::CaptionSampler;
use crate::sample::Trained;
use std::path::{Path, PathBuf};
use tch::Tensor;

const MODULE: &str = r#""""A StackGAN run trained by gantry, as plain PyTorch modules: its caption encoder and its
generator stages.

Run: {{RUN}} (preset {{PRESET}}), step {{STEP}}.
Weights: {{WEIGHTS}} (PyTorch names; read below with torch alone).

    from {{MODULE}} import load
    g = load("{{WEIGHTS}}")
    images = g.sample(["a small red circle left of a large blue square"], n=4)
    # [4, channels, side, side] in [-1, 1]; g.sample(..., stages=True) returns every stage

    # with noise of your own, as `gantry sample --latents-npy` writes it:
    e = g.embed(captions)                 # [n, text dim]
    x = g(e, noise)                       # noise [n, g.noise_dim] ~ N(0, I): z, then each
                                          # stage's conditioning-augmentation epsilon
"""
import json
import struct

import torch
import torch.nn.functional as F
from torch import nn

SETTINGS = json.loads({{SETTINGS}})


def words(caption):
    """gantry's tokeniser: lower case, split at anything but letters, digits, '-' and "'"."""
    out, word = [], ""
    for ch in caption + " ":
        if ch.isalnum() or ch in "-'":
            word += ch
        elif word:
            out.append(word.lower())
            word = ""
    return out


class TextEncoder(nn.Module):
    """Word embeddings read by two GRUs, one forward and one over each caption reversed; the
    states after the last word, joined, through a linear layer."""

    def __init__(self, vocab, word_dim, hidden, dim):
        super().__init__()
        self.index = {w: i + 2 for i, w in enumerate(vocab)}  # 0 pads, 1 is the unknown word
        self.embed = nn.Embedding(len(vocab) + 2, word_dim)
        self.gru_forward = nn.GRU(word_dim, hidden, batch_first=True)
        self.gru_backward = nn.GRU(word_dim, hidden, batch_first=True)
        self.out = nn.Linear(2 * hidden, dim)

    def ids(self, captions):
        """Word ids [n, longest] (0 after each caption) and lengths; refuses unknown words, which
        carry no meaning to the encoder."""
        seqs = []
        for c in captions:
            ws = words(c)
            unknown = sorted({w for w in ws if w not in self.index})
            if unknown or not ws:
                raise ValueError(f"caption {c!r}: " + (f"words the text encoder never saw: {unknown}" if unknown else "no word"))
            seqs.append([self.index[w] for w in ws])
        longest = max(len(s) for s in seqs)
        ids = torch.tensor([s + [0] * (longest - len(s)) for s in seqs], dtype=torch.int64)
        return ids, torch.tensor([len(s) for s in seqs], dtype=torch.int64)

    def forward(self, ids, lens):
        b, t = ids.shape
        pos = torch.arange(t, device=ids.device).expand(b, t)
        last = lens.unsqueeze(1) - 1
        reverse = torch.where(pos <= last, last - pos, pos)
        f, _ = self.gru_forward(self.embed(ids))
        r, _ = self.gru_backward(self.embed(ids.gather(1, reverse)))
        at = last.unsqueeze(2).expand(b, 1, f.shape[2])
        return self.out(torch.cat([f.gather(1, at).squeeze(1), r.gather(1, at).squeeze(1)], 1))


class CondAug(nn.Module):
    """Conditioning augmentation: (mu, log sigma^2) = split(relu(fc(e))) (ca "relu", StackGAN's)
    or split(glu(fc(e))) (ca "glu", StackGAN++'s: fc to 4 c, a * sigmoid(b) to 2 c);
    c = mu + sigma * eps."""

    def __init__(self, text_dim, c_dim, ca="relu"):
        super().__init__()
        self.glu = ca == "glu"
        self.fc = nn.Linear(text_dim, (4 if self.glu else 2) * c_dim)
        self.c_dim = c_dim

    def forward(self, e, eps=None):
        h = self.fc(e)
        h = h[:, : 2 * self.c_dim] * torch.sigmoid(h[:, 2 * self.c_dim :]) if self.glu else torch.relu(h)
        mu, logvar = h[:, : self.c_dim], h[:, self.c_dim :]
        return mu if eps is None else mu + torch.exp(logvar * 0.5) * eps


def add_up(module, i, cin, cout):
    setattr(module, f"up{i}", nn.Conv2d(cin, cout, 3, 1, 1, bias=False))
    setattr(module, f"norm_up{i}", nn.BatchNorm2d(cout))


def run_up(module, i, h):
    h = F.interpolate(h, scale_factor=2, mode="nearest")
    return torch.relu(getattr(module, f"norm_up{i}")(getattr(module, f"up{i}")(h)))


class Stage1(nn.Module):
    """[z, c] -> linear -> batch norm -> ReLU -> width x 4 x 4, then (nearest x2, conv 3, batch
    norm, ReLU) halving the channels up to the image side, conv 3, tanh."""

    def __init__(self, s, text_dim, channels):
        super().__init__()
        self.ca = CondAug(text_dim, s["c_dim"], s.get("ca", "relu"))
        self.width, self.steps = s["g_width"], (s["side"] // 4).bit_length() - 1
        self.fc = nn.Linear(s["z_dim"] + s["c_dim"], self.width * 16, bias=False)
        self.norm_fc = nn.BatchNorm1d(self.width * 16)
        ch = self.width
        for i in range(self.steps):
            add_up(self, i, ch, max(ch // 2, 8))
            ch = max(ch // 2, 8)
        self.out = nn.Conv2d(ch, channels, 3, 1, 1, bias=False)

    def forward(self, e, z, eps=None):
        h = torch.relu(self.norm_fc(self.fc(torch.cat([z, self.ca(e, eps)], 1))))
        h = h.view(-1, self.width, 4, 4)
        for i in range(self.steps):
            h = run_up(self, i, h)
        return torch.tanh(self.out(h))


class Stage2(nn.Module):
    """The Stage-I image encoded (conv 3, two stride-2 conv 4), joined with c tiled (conv 3),
    residual blocks, four (nearest x2, conv 3) blocks to 4x the side, conv 3, tanh."""

    def __init__(self, s, text_dim, channels):
        super().__init__()
        w, deep = s["g_width"], s["g_width"] * 4
        self.ca = CondAug(text_dim, s["c_dim"], s.get("ca", "relu"))
        self.enc0 = nn.Conv2d(channels, w, 3, 1, 1, bias=False)
        self.enc1 = nn.Conv2d(w, 2 * w, 4, 2, 1, bias=False)
        self.norm_enc1 = nn.BatchNorm2d(2 * w)
        self.enc2 = nn.Conv2d(2 * w, deep, 4, 2, 1, bias=False)
        self.norm_enc2 = nn.BatchNorm2d(deep)
        self.joint = nn.Conv2d(deep + s["c_dim"], deep, 3, 1, 1, bias=False)
        self.norm_joint = nn.BatchNorm2d(deep)
        self.blocks = s["res_blocks"]
        for i in range(self.blocks):
            for j in range(2):
                setattr(self, f"res{i}_conv{j}", nn.Conv2d(deep, deep, 3, 1, 1, bias=False))
                setattr(self, f"norm_res{i}_{j}", nn.BatchNorm2d(deep))
        ch = deep
        for i in range(4):
            add_up(self, i, ch, max(ch // 2, 8))
            ch = max(ch // 2, 8)
        self.out = nn.Conv2d(ch, channels, 3, 1, 1, bias=False)

    def forward(self, low, e, eps=None):
        h = torch.relu(self.enc0(low))
        h = torch.relu(self.norm_enc1(self.enc1(h)))
        h = torch.relu(self.norm_enc2(self.enc2(h)))
        c = self.ca(e, eps)
        tiled = c.view(c.shape[0], -1, 1, 1).expand(-1, -1, h.shape[2], h.shape[3])
        h = torch.relu(self.norm_joint(self.joint(torch.cat([h, tiled], 1))))
        for i in range(self.blocks):
            r = torch.relu(getattr(self, f"norm_res{i}_0")(getattr(self, f"res{i}_conv0")(h)))
            h = torch.relu(getattr(self, f"norm_res{i}_1")(getattr(self, f"res{i}_conv1")(r)) + h)
        for i in range(4):
            h = run_up(self, i, h)
        return torch.tanh(self.out(h))


class Generator(nn.Module):
    def __init__(self, settings=SETTINGS):
        super().__init__()
        t, self.channels = settings["text"], settings["channels"]
        self.text = TextEncoder(t["vocab"], t["word_dim"], t["hidden"], t["dim"])
        self.plan = settings["stages"]
        for s in self.plan:
            net = Stage1 if s["stage"] == 1 else Stage2
            setattr(self, f"stage{s['stage']}", net(s, t["dim"], self.channels))
        self.z_dim, self.noise_dim = settings["z_dim"], settings["noise_dim"]
        self.side = self.plan[-1]["side"]

    def embed(self, captions):
        """Caption embeddings [n, dim] of a list of captions."""
        ids, lens = self.text.ids(captions)
        p = next(self.parameters())
        return self.text(ids.to(p.device), lens.to(p.device))

    def stages(self, e, noise):
        """Every stage's images of embeddings e and noise [n, noise_dim], lowest first."""
        z, at, out = noise[:, : self.z_dim], self.z_dim, []
        for s in self.plan:
            eps = None
            if s["augment"]:
                eps, at = noise[:, at : at + s["c_dim"]], at + s["c_dim"]
            net = getattr(self, f"stage{s['stage']}")
            out.append(net(e, z, eps) if s["stage"] == 1 else net(out[-1], e, eps))
        return out

    def forward(self, e, noise):
        return self.stages(e, noise)[-1]

    @torch.no_grad()
    def sample(self, captions, n=1, stages=False, generator=None):
        """n images of each caption (caption by caption): the last stage's, or every stage's."""
        e = self.embed(captions).repeat_interleave(n, 0)
        noise = torch.randn(e.shape[0], self.noise_dim, generator=generator).to(e.device)
        out = self.stages(e, noise)
        return out if stages else out[-1]


{{READER}}


def load(path="{{WEIGHTS}}"):
    return load_weights(Generator(), path)
"#;

fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

fn cpu(weights: Vec<(String, Tensor)>) -> Vec<(String, Tensor)> {
    let mut w: Vec<(String, Tensor)> = weights.into_iter().map(|(n, t)| (n, t.to_device(tch::Device::Cpu))).collect();
    w.sort_by(|a, b| a.0.cmp(&b.0));
    w
}

/// `STEM.safetensors` and `STEM.py`.
pub fn plain(t: &Trained, s: &dyn CaptionSampler, run: &Path, out: &Path) -> Result<Vec<PathBuf>> {
    let (settings, weights) = s.export_parts();
    let weights_path = out.with_extension("safetensors");
    let module = out.with_extension("py");
    Tensor::write_safetensors(&cpu(weights), &weights_path)
        .map_err(|e| Error::Usage(format!("cannot write {} ({e})", weights_path.display())))?;
    let stem = module.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let text = MODULE
        .replace("{{RUN}}", &run.display().to_string())
        .replace("{{PRESET}}", &t.cfg.preset)
        .replace("{{STEP}}", &t.step.to_string())
        .replace("{{MODULE}}", &stem)
        // a JSON string of the JSON: also a valid Python string literal, whatever the words hold
        .replace("{{SETTINGS}}", &serde_json::to_string(&settings.to_string()).expect("settings serialise"))
        .replace("{{READER}}", READER)
        .replace("{{WEIGHTS}}", &file_name(&weights_path));
    std::fs::write(&module, text).map_err(crate::error::io_err(&module))?;
    Ok(vec![weights_path, module])
}

/// TorchScript's tokeniser on the `vocab` attribute (one word a line; word i has id i + 2).
const TS_METHODS: &str = r#"def ids(self, captions: List[str]) -> Tensor:
    index: Dict[str, int] = {}
    vocab = self.vocab.split("\n")
    for i in range(len(vocab)):
        index[vocab[i]] = i + 2
    rows: List[List[int]] = []
    longest = 1
    for c in captions:
        row: List[int] = []
        word = ""
        for ch in c + " ":
            if ch.isalnum() or ch == "-" or ch == "'":
                word = word + ch
            elif len(word) > 0:
                w = word.lower()
                assert w in index, "the text encoder never saw the word " + w
                row.append(index[w])
                word = ""
        assert len(row) > 0, "a caption holds no word: " + c
        longest = max(longest, len(row))
        rows.append(row)
    flat: List[int] = []
    for row in rows:
        flat.extend(row)
        for j in range(longest - len(row)):
            flat.append(0)
    return torch.tensor(flat).view([len(rows), longest])

def embed(self, captions: List[str]) -> Tensor:
    return self.forward(self.ids(captions))
"#;

/// `STEM.pt`, the generator from [embedding ‖ noise] to the last stage's images, and
/// `STEM-text.pt`, the caption encoder from word ids (with `ids` and `embed` of caption lists).
pub fn torchscript(t: &Trained, s: &dyn CaptionSampler, out: &Path) -> Result<Vec<PathBuf>> {
    let (settings, _) = s.export_parts();
    let enc = s.encoder();
    let (text_dim, noise_dim) = (enc.meta.dim, s.noise_dim());
    let z_dim = settings["z_dim"].as_i64().unwrap_or(0);
    let last = settings["stages"].as_array().and_then(|a| a.last()).cloned().unwrap_or_default();
    let side = last["side"].as_i64().unwrap_or(0);
    let device = t.device;
    let input = |n: i64| {
        Tensor::cat(
            &[
                Tensor::randn([n, text_dim], (tch::Kind::Float, device)),
                Tensor::randn([n, noise_dim], (tch::Kind::Float, device)),
            ],
            1,
        )
    };
    let common = [("method", t.cfg.method.as_str()), ("preset", t.cfg.preset.as_str()), ("value_range", "[-1, 1]")];
    let mut strs = common.to_vec();
    strs.push(("prior", "normal"));
    let ints = [
        ("text_dim", text_dim),
        ("noise_dim", noise_dim),
        ("z_dim", z_dim),
        ("side", side),
        ("stages", settings["stages"].as_array().map_or(0, |a| a.len() as i64)),
        ("step", t.step as i64),
    ];
    write_module(
        out,
        &input(2),
        &input(3),
        &ints,
        &strs,
        "",
        &mut |x| {
            let stages = s.generate(&x.narrow(1, 0, text_dim), &x.narrow(1, text_dim, noise_dim));
            stages.into_iter().last().into_iter().collect()
        },
        &[],
        false,
    )?;
    // word ids: two captions of 3 and 4 words, then three of up to 6 (the trace must hold for both)
    let ids = |rows: &[&[i64]]| {
        let longest = rows.iter().map(|r| r.len()).max().unwrap_or(1);
        let flat: Vec<i64> =
            rows.iter().flat_map(|r| r.iter().copied().chain(std::iter::repeat_n(0, longest - r.len()))).collect();
        Tensor::from_slice(&flat).view([rows.len() as i64, longest as i64]).to(device)
    };
    let top = enc.meta.vocab.len() as i64 + 1;
    let w = |k: i64| 2 + k % (top - 1).max(1);
    let example = ids(&[&[w(1), w(2), w(3)], &[w(4), w(5), w(6), w(7)]]);
    let check = ids(&[&[w(8), w(9)], &[w(10), w(11), w(12), w(13), w(14), w(15)], &[w(16)]]);
    let stem = out.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "G".into());
    let text_path = out.with_file_name(format!("{stem}-text.pt"));
    let vocab = enc.meta.vocab.join("\n");
    let mut strs = common.to_vec();
    strs.push(("vocab", vocab.as_str()));
    write_module(
        &text_path,
        &example,
        &check,
        &[("dim", text_dim), ("vocab_size", enc.meta.vocab.len() as i64)],
        &strs,
        TS_METHODS,
        &mut |ids| vec![tch::no_grad(|| enc.encode_ids(ids))],
        &[],
        false,
    )?;
    Ok(vec![out.to_path_buf(), text_path])
}
