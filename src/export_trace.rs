//! Tracing a generator to TorchScript and checking the trace: a module is traced on one batch,
//! checked against the network on a batch of another size, and finished with its attributes
//! and methods by the C++ shim; when it fails, its named stages are traced one by one to name
//! the layer (`export` and `export_captions` write with it).
use crate::error::{Error, Result};
use crate::nets::Stage;
use std::path::Path;
use tch::{CModule, Tensor};

/// One traced module, finished with its attributes at `out`. The trace records one batch's
/// operations; it is checked on a second input of another batch size (`check`) against the
/// network itself, so a layer whose work depends on the batch in a way a trace cannot record is
/// refused rather than exported wrong. When the whole network fails, its `stages` are traced and
/// checked one by one to name the layer.
#[allow(clippy::too_many_arguments)]
pub fn write_module(
    out: &Path,
    example: &Tensor,
    check: &Tensor,
    ints: &[(&str, i64)],
    strs: &[(&str, &str)],
    methods: &str,
    f: &mut dyn FnMut(&Tensor) -> Vec<Tensor>,
    stages: &[Stage],
    check_layers: bool,
) -> Result<()> {
    let fail = |what: String| {
        let blame = match locate(stages, example, check) {
            Some(Untraceable { layer, why }) => {
                format!("layer `{layer}` {why}: its work depends on the input in a way a trace cannot record")
            }
            None => "no single layer fails on its own (checked layer by layer)".into(),
        };
        Error::Usage(format!(
            "{} cannot be exported as TorchScript: {what}; {blame}. Please report it with the run's config.toml",
            out.display()
        ))
    };
    let traced = CModule::create_by_tracing("Generator", "forward", std::slice::from_ref(example), &mut |xs| f(&xs[0]))
        .map_err(|e| fail(format!("the trace failed ({})", crate::error::torch_message(&e))))?;
    let want = tch::no_grad(|| f(check).remove(0));
    let got = tch::no_grad(|| traced.forward_ts(std::slice::from_ref(check))).map_err(|e| {
        fail(format!(
            "the traced generator fails on a batch of {} ({})",
            check.size()[0],
            crate::error::torch_message(&e)
        ))
    })?;
    if let Some(diff) = differs(&got, &want) {
        return Err(fail(format!(
            "the traced generator does not reproduce gantry's on a batch of {} ({diff})",
            check.size()[0]
        )));
    }
    if check_layers {
        if let Some(diff) = differs(&crate::nets::run_stages(stages, check), &want) {
            return Err(Error::Usage(format!(
                "{}: the generator's layers ({}) do not make up the generator ({diff}); please report it with the run's config.toml",
                out.display(),
                stages.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
            )));
        }
        if let Some(Untraceable { layer, why }) = locate(stages, example, check) {
            return Err(Error::Usage(format!("{}: layer `{layer}` {why}", out.display())));
        }
    }
    let tmp = out.with_extension("traced.tmp");
    traced.save(&tmp).map_err(|e| Error::Usage(format!("cannot write {} ({e})", tmp.display())))?;
    let done = crate::ops::jit_finish(&tmp, out, ints, strs, methods)
        .map_err(|e| Error::Usage(format!("cannot finish the TorchScript module {} ({e})", out.display())));
    let _ = std::fs::remove_file(&tmp);
    done
}

/// How a traced output differs from the network's, beyond 1e-5 (None when it does not).
fn differs(got: &Tensor, want: &Tensor) -> Option<String> {
    if got.size() != want.size() {
        return Some(format!("shapes {:?} and {:?}", got.size(), want.size()));
    }
    let diff = (got - want).abs().max().double_value(&[]);
    (diff.is_nan() || diff > 1e-5).then(|| format!("largest difference {diff:e}"))
}

/// The first stage that cannot be traced faithfully, and why.
#[derive(Debug)]
pub struct Untraceable {
    pub layer: String,
    pub why: String,
}

/// Traces each of `stages` alone on the example's activations at its input and checks it on the
/// second batch's, as `write_module` checks the whole network.
pub fn locate(stages: &[Stage], example: &Tensor, check: &Tensor) -> Option<Untraceable> {
    let (mut x, mut c) = (example.shallow_clone(), check.shallow_clone());
    for s in stages {
        let blame = |why: String| Some(Untraceable { layer: s.name.clone(), why });
        let traced = match CModule::create_by_tracing("Stage", "forward", std::slice::from_ref(&x), &mut |xs| {
            vec![(s.run)(&xs[0])]
        }) {
            Ok(t) => t,
            Err(e) => return blame(format!("cannot be traced ({})", crate::error::torch_message(&e))),
        };
        let want = tch::no_grad(|| (s.run)(&c));
        match tch::no_grad(|| traced.forward_ts(std::slice::from_ref(&c))) {
            Err(e) => {
                return blame(format!(
                    "fails, traced, on a batch of {} ({})",
                    c.size()[0],
                    crate::error::torch_message(&e)
                ));
            }
            Ok(got) => {
                if let Some(diff) = differs(&got, &want) {
                    return blame(format!("gives, traced, another result on a batch of {} ({diff})", c.size()[0]));
                }
            }
        }
        x = tch::no_grad(|| (s.run)(&x));
        c = want;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layer_a_trace_cannot_record_is_named() {
        // `baked` reads the batch size as a number while tracing: the trace keeps 2 rows on any
        // batch, so it is the layer to blame; the layers before and after trace faithfully
        let stages = vec![
            Stage::new("first", |x| x * 2.0),
            Stage::new("baked", |x| x.narrow(0, 0, x.size()[0]) + 1.0),
            Stage::new("last", |x| x.tanh()),
        ];
        let example = Tensor::randn([2, 4], tch::kind::FLOAT_CPU);
        let check = Tensor::randn([3, 4], tch::kind::FLOAT_CPU);
        let u = locate(&stages, &example, &check).expect("a layer is blamed");
        assert_eq!(u.layer, "baked");
        assert!(u.why.contains("batch of 3") && u.why.contains("shapes"), "{}", u.why);
        // a faithful network blames nothing
        let faithful = vec![Stage::new("first", |x| x * 2.0), Stage::new("last", |x| x.tanh())];
        assert!(locate(&faithful, &example, &check).is_none());
    }
}
