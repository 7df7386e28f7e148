//! Captioned images (text-to-image methods): a folder of images with one caption file per image,
//! one caption a line, in the layout of the public CUB-200 and Oxford-102 caption sets:
//!
//! ```text
//! DIR/[train/|test/]images/…/NAME.png|jpg   (or jpg/…)
//! DIR/[train/|test/]text/…/NAME.txt         (or text_c10/…; or the .txt beside each image)
//! ```
//!
//! An image's caption file is the `.txt` at the same relative path under the text folder, else
//! the one `.txt` of the same name anywhere under it (Oxford-102 keeps its captions in class
//! folders beside a flat `jpg/`). `train/` and `test/` are the splits; without them the folder is
//! one training split. `gantry data make shapes-captions` writes this layout with a
//! `scenes.jsonl` beside each split: every scene's objects and each caption's meaning, which the
//! attribute judge scores against.
use super::DataConfig;
use super::scenes::{Scene, read_scenes};
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tch::{Device, Tensor};

const IMAGE_DIRS: [&str; 2] = ["images", "jpg"];
const TEXT_DIRS: [&str; 2] = ["text", "text_c10"];

/// Whether `dir` is a captioned folder (its split or itself holds an image folder and, beside
/// it, a text folder).
pub fn is_captioned(dir: &Path) -> bool {
    let split = if dir.join("train").is_dir() { dir.join("train") } else { dir.to_path_buf() };
    IMAGE_DIRS.iter().any(|d| split.join(d).is_dir()) && TEXT_DIRS.iter().any(|d| split.join(d).is_dir())
}

/// The folder of `split` (`train` or `test`).
fn split_dir(root: &Path, split: &str) -> Result<PathBuf> {
    if root.join("train").is_dir() {
        let d = root.join(if split == "train" { "train" } else { "test" });
        if !d.is_dir() {
            return Err(Error::Data {
                path: root.into(),
                msg: "has train/ but no test/ beside it; put the held-out captioned images in test/ (same layout)"
                    .into(),
            });
        }
        return Ok(d);
    }
    if split != "train" {
        return Err(Error::Data {
            path: root.into(),
            msg:
                "has one split only; for held-out captions arrange it as train/ and test/ (each with images/ and text/)"
                    .into(),
        });
    }
    Ok(root.into())
}

/// The words of a caption: lower case, split at anything but letters, digits, `-` and `'`.
pub fn words(caption: &str) -> Vec<String> {
    caption
        .split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '\''))
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
        .collect()
}

/// Reads one caption file: its non-blank lines, each with at least one word.
pub fn read_caption_file(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(crate::error::io_err(path))?;
    let mut out = vec![];
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if words(line).is_empty() {
            return Err(Error::Data {
                path: path.into(),
                msg: format!("line {} ({line:?}) holds no word; write one caption a line, in words", i + 1),
            });
        }
        out.push(line.to_string());
    }
    if out.is_empty() {
        return Err(Error::Data {
            path: path.into(),
            msg: "holds no caption; write at least one caption (one a line) for its image, or remove the image".into(),
        });
    }
    Ok(out)
}

/// Every `.txt` file under `dir`.
fn text_files(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<()> {
    if depth > 32 {
        return Err(Error::Data {
            path: dir.into(),
            msg: "lies more than 32 folders deep; is there a link loop?".into(),
        });
    }
    for e in std::fs::read_dir(dir).map_err(crate::error::io_err(dir))? {
        let p = e.map_err(crate::error::io_err(dir))?.path();
        if p.is_dir() {
            text_files(&p, depth + 1, out)?;
        } else if p.extension().is_some_and(|e| e == "txt") {
            out.push(p);
        }
    }
    Ok(())
}

/// The image files of a split and each one's caption file.
pub fn pairs(split: &Path) -> Result<Vec<(PathBuf, PathBuf)>> {
    let images = IMAGE_DIRS.iter().map(|d| split.join(d)).find(|d| d.is_dir()).ok_or_else(|| Error::Data {
        path: split.into(),
        msg: "has no images/ (or jpg/) folder; a captioned folder holds images/ and text/".into(),
    })?;
    let text = TEXT_DIRS.iter().map(|d| split.join(d)).find(|d| d.is_dir()).unwrap_or_else(|| images.clone());
    let files = super::folder::list(&images)?.files;
    let mut txts = vec![];
    text_files(&text, 0, &mut txts)?;
    let mut by_stem: HashMap<String, Vec<PathBuf>> = HashMap::new();
    for t in txts {
        let stem = t.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        by_stem.entry(stem).or_default().push(t);
    }
    files
        .into_iter()
        .map(|f| {
            let rel = f.strip_prefix(&images).unwrap_or(&f).with_extension("txt");
            let same_place = text.join(&rel);
            if same_place.is_file() {
                return Ok((f, same_place));
            }
            let stem = f.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            match by_stem.get(&stem).map(Vec::as_slice) {
                Some([one]) => Ok((f, one.clone())),
                Some(many) => Err(Error::Data {
                    path: f.clone(),
                    msg: format!(
                        "has {} caption files of its name under {} ({} and {}); keep one, or place it at {}",
                        many.len(),
                        text.display(),
                        many[0].display(),
                        many[1].display(),
                        same_place.display()
                    ),
                }),
                None => Err(Error::Data {
                    path: f.clone(),
                    msg: format!(
                        "has no caption file: looked for {} and for {stem}.txt anywhere under {}; write one (one caption a line) or remove the image",
                        same_place.display(),
                        text.display()
                    ),
                }),
            }
        })
        .collect()
}

/// One split of captioned images, ready to serve batches.
pub struct Captioned {
    /// `[n, c, s, s]` in [−1, 1].
    pub x: Tensor,
    /// Each image's captions.
    pub captions: Vec<Vec<String>>,
    /// Each image's file, for messages.
    pub files: Vec<PathBuf>,
    /// The scene records of gantry's own captioned set, in image order.
    pub scenes: Option<Vec<Scene>>,
}

impl Captioned {
    /// Loads `split` (`train` or `test`) of the captioned folder `cfg.data.source`.
    pub fn load(cfg: &DataConfig, split: &str, device: Device) -> Result<Captioned> {
        let root = PathBuf::from(&cfg.source);
        if !is_captioned(&root) {
            return Err(Error::Data {
                path: root,
                msg: "is not a captioned folder; it needs images/ and text/ (one caption file per image, one caption a line), optionally under train/ and test/; `gantry data make shapes-captions --out DIR` writes one".into(),
            });
        }
        let dir = split_dir(&root, split)?;
        let found = pairs(&dir)?;
        let captions: Vec<Vec<String>> = found.iter().map(|(_, t)| read_caption_file(t)).collect::<Result<_>>()?;
        let files: Vec<PathBuf> = found.into_iter().map(|(f, _)| f).collect();
        let (x, kept) = super::folder::load_files(&dir, &files, cfg, device)?;
        if kept.len() < files.len() {
            eprintln!(
                "note: skipped {} unreadable image files of {} (data.skip_bad = true)",
                files.len() - kept.len(),
                dir.display()
            );
        }
        let scenes_file = dir.join("scenes.jsonl");
        let scenes = if scenes_file.is_file() {
            let all = read_scenes(&scenes_file)?;
            let by_file: HashMap<&str, &Scene> = all.iter().map(|s| (s.file.as_str(), s)).collect();
            let picked: Option<Vec<Scene>> =
                kept.iter().map(|&i| by_file.get(files[i].file_stem()?.to_str()?).map(|s| (*s).clone())).collect();
            Some(picked.ok_or_else(|| Error::Data {
                path: scenes_file.clone(),
                msg: "does not describe every image of its split; remake the set with `gantry data make shapes-captions`"
                    .into(),
            })?)
        } else {
            None
        };
        Ok(Captioned {
            x,
            captions: kept.iter().map(|&i| captions[i].clone()).collect(),
            files: kept.iter().map(|&i| files[i].clone()).collect(),
            scenes,
        })
    }

    pub fn len(&self) -> usize {
        self.captions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.captions.is_empty()
    }

    /// Images per side and channels.
    pub fn shape(&self) -> super::Shape {
        let s = self.x.size();
        super::Shape::Image { channels: s[1], size: s[2] }
    }

    /// The image indices of batch `index`: a permutation of the set per epoch, from (seed,
    /// epoch), as every other set's batches.
    pub fn batch_indices(&self, index: u64, batch_size: i64, seed: u64) -> Vec<i64> {
        let n = self.len() as u64;
        let mut perm: Option<(u64, Vec<i64>)> = None;
        (0..batch_size as u64)
            .map(|k| {
                let pos = index * batch_size as u64 + k;
                let epoch = pos / n;
                if perm.as_ref().is_none_or(|(e, _)| *e != epoch) {
                    let seed = crate::rng::derive(seed, crate::rng::stream::EPOCH, epoch);
                    perm = Some((epoch, crate::rng::permutation(n as usize, seed)));
                }
                perm.as_ref().expect("just made").1[(pos % n) as usize]
            })
            .collect()
    }
}

/// Hashes a captioned folder's caption files (relative paths and bytes) into `h`; the images
/// are hashed as an image folder's.
pub fn hash_text_into(root: &Path, h: &mut impl sha2::Digest) -> Result<()> {
    let mut files = vec![];
    text_files(root, 0, &mut files)?;
    files.sort();
    for f in files {
        h.update(f.strip_prefix(root).unwrap_or(&f).to_string_lossy().as_bytes());
        h.update(std::fs::read(&f).map_err(crate::error::io_err(&f))?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        image::save_buffer(path, &[0u8; 4 * 4 * 3], 4, 4, image::ColorType::Rgb8).unwrap();
    }

    fn txt(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn the_cub_and_oxford_layouts_pair_images_with_captions() {
        let t = tempfile::tempdir().unwrap();
        // CUB: text_c10/ mirrors images/ class folder by class folder
        let cub = t.path().join("cub");
        png(&cub.join("images/001.Albatross/a_1.png"));
        txt(&cub.join("text_c10/001.Albatross/a_1.txt"), "a large bird\nwith white wings\n\n");
        // Oxford-102: a flat jpg/ and captions in class folders, found by name
        let ox = t.path().join("ox");
        png(&ox.join("jpg/image_00001.png"));
        png(&ox.join("jpg/image_00002.png"));
        txt(&ox.join("text_c10/class_00077/image_00001.txt"), "pink petals");
        txt(&ox.join("text_c10/class_00012/image_00002.txt"), "a yellow centre");
        assert!(is_captioned(&cub) && is_captioned(&ox));
        let p = pairs(&cub).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(read_caption_file(&p[0].1).unwrap(), ["a large bird", "with white wings"]);
        let p = pairs(&ox).unwrap();
        assert!(p[1].1.ends_with("class_00012/image_00002.txt"), "{p:?}");
        // one name twice under text/: ambiguous, said so
        txt(&ox.join("text_c10/class_00003/image_00002.txt"), "again");
        let e = pairs(&ox).unwrap_err().to_string();
        assert!(e.contains("has 2 caption files of its name"), "{e}");
    }

    #[test]
    fn words_are_lower_case_and_keep_hyphens() {
        assert_eq!(words("A small, RED solid-line box."), ["a", "small", "red", "solid-line", "box"]);
        assert_eq!(words("  this bird's wings\tare   grey "), ["this", "bird's", "wings", "are", "grey"]);
        assert!(words(" ,. ").is_empty());
    }
}
