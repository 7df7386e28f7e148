//! `gantry report`: one self-contained HTML page per run (or comparing runs) that a person opens
//! in a browser, with nothing fetched from the network: the resolved configuration, every
//! `metrics.jsonl` key as a plot (log scale and smoothing), the sample grids with a step
//! slider, the latest `gantry eval` results, and, comparing runs, their curves overlaid and a
//! table of final figures.
//!
//! The page is the run's data as one JSON object plus a small script (`report.js`) that draws it
//! on canvases. When the page has drawn, `<body>` carries `data-status="ok"` and the counts of
//! plots and images drawn (`data-plots`, `data-images`), or `data-status="error"` and the error:
//! what the browser test reads.
use crate::error::{Error, Result, io_err};
use base64::Engine;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// The most sample grids a page embeds (evenly spaced, the last always kept).
const MAX_GRIDS: usize = 60;

/// A run's figures, as the page reads them.
fn run_data(run: &Path) -> Result<Value> {
    let cfg_path = run.join("config.toml");
    if !cfg_path.is_file() {
        return Err(Error::Usage(format!(
            "{} is not a gantry run folder (it has no config.toml); pass the --out folder of `gantry train`",
            run.display()
        )));
    }
    let config = std::fs::read_to_string(&cfg_path).map_err(io_err(&cfg_path))?;
    let table: toml::Table = config.parse().unwrap_or_default();
    let get = |k: &str| table.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
    // metrics: key → [[step, value], …]; events (rollbacks) apart
    let mut metrics = serde_json::Map::new();
    let mut events = vec![];
    let metrics_path = run.join("metrics.jsonl");
    if let Ok(text) = std::fs::read_to_string(&metrics_path) {
        // a line being written while the report is read is skipped, not an error
        for line in text.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()) {
            let Some(obj) = line.as_object() else { continue };
            let step = obj.get("step").and_then(Value::as_u64).unwrap_or(0);
            if obj.contains_key("event") {
                events.push(line.clone());
                continue;
            }
            for (k, v) in obj {
                if let (false, Some(x)) = (k == "step", v.as_f64()) {
                    let series = metrics.entry(k.clone()).or_insert_with(|| json!([]));
                    series.as_array_mut().expect("array").push(json!([step, x]));
                }
            }
        }
    }
    let mut grids: Vec<(u64, PathBuf)> = match std::fs::read_dir(run.join("samples")) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter_map(|p| {
                let step = p.file_stem()?.to_str()?.strip_prefix("step-")?.parse().ok()?;
                (p.extension()? == "png").then_some((step, p))
            })
            .collect(),
        Err(_) => vec![],
    };
    grids.sort();
    if grids.len() > MAX_GRIDS {
        let n = grids.len();
        let keep: Vec<usize> = (0..MAX_GRIDS).map(|i| i * (n - 1) / (MAX_GRIDS - 1)).collect();
        grids = keep.into_iter().map(|i| grids[i].clone()).collect();
        grids.dedup();
    }
    let engine = base64::engine::general_purpose::STANDARD;
    let grids: Vec<Value> = grids
        .iter()
        .filter_map(|(step, p)| {
            let bytes = std::fs::read(p).ok()?;
            Some(json!({ "step": step, "src": format!("data:image/png;base64,{}", engine.encode(bytes)) }))
        })
        .collect();
    let mut evals: Vec<(u64, Value)> = match std::fs::read_dir(run.join("eval")) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter_map(|p| {
                let step = p.file_stem()?.to_str()?.strip_prefix("step-")?.parse().ok()?;
                let v: Value = serde_json::from_str(&std::fs::read_to_string(&p).ok()?).ok()?;
                Some((step, v))
            })
            .collect(),
        Err(_) => vec![],
    };
    evals.sort_by_key(|(s, _)| *s);
    let name = run.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| run.display().to_string());
    let translation = crate::method::spec(&get("method")).is_ok_and(|s| s.batch == crate::method::Batch::Unpaired);
    Ok(json!({
        "name": name,
        "path": run.display().to_string(),
        "preset": get("preset"),
        "method": get("method"),
        "steps": table.get("steps").and_then(|v| v.as_integer()),
        "config": config,
        "metrics": metrics,
        "events": events,
        "grids": grids,
        "evals": evals.into_iter().map(|(s, v)| json!({"step": s, "result": v})).collect::<Vec<_>>(),
        "translation": translation,
    }))
}

/// The page for `runs` (one: a run's report; several: a comparison).
pub fn page(runs: &[PathBuf]) -> Result<String> {
    let data: Vec<Value> = runs.iter().map(|r| run_data(r)).collect::<Result<_>>()?;
    let title = match &data[..] {
        [one] => format!("gantry — {}", one["name"].as_str().unwrap_or("run")),
        many => format!("gantry — {} runs compared", many.len()),
    };
    let payload = json!({ "runs": data, "version": env!("CARGO_PKG_VERSION") });
    // inside <script>, "</" would end the element early
    let payload = payload.to_string().replace("</", "<\\/");
    Ok(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\n<style>{}</style></head>\n<body data-status=\"loading\">\n<main id=\"app\"></main>\n<script id=\"data\" type=\"application/json\">{}</script>\n<script>{}</script>\n</body></html>\n",
        html_escape(&title),
        include_str!("report.css"),
        payload,
        include_str!("report.js")
    ))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Writes the page for `runs` at `out` (through a temporary file, so a browser never reads half a
/// page).
pub fn write(runs: &[PathBuf], out: &Path) -> Result<()> {
    let html = page(runs)?;
    let tmp = out.with_extension("html.tmp");
    std::fs::write(&tmp, html).map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, out).map_err(io_err(out))
}

/// Saves a `gantry eval` result under `RUN/eval/step-N.json`, where the report finds it.
pub fn save_eval(run: &Path, step: u64, result: &Value) -> Result<PathBuf> {
    let dir = run.join("eval");
    std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    let path = dir.join(format!("step-{step:07}.json"));
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(result).expect("serialises")).map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(io_err(&path))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_folder_becomes_one_page_with_its_data() {
        let t = tempfile::tempdir().unwrap();
        let run = t.path().join("r");
        std::fs::create_dir_all(run.join("samples")).unwrap();
        std::fs::write(run.join("config.toml"), "preset = \"dcgan\"\nmethod = \"gan\"\nsteps = 20\n").unwrap();
        std::fs::write(
            run.join("metrics.jsonl"),
            "{\"step\":10,\"g/loss\":1.5,\"d/loss\":0.5}\n{\"step\":20,\"g/loss\":1.25,\"d/loss\":0.75}\n{\"step\":10,\"event\":\"rollback\"}\n{\"step\":2",
        )
        .unwrap();
        image::GrayImage::new(4, 4).save(run.join("samples/step-0000010.png")).unwrap();
        let d = run_data(&run).unwrap();
        assert_eq!(d["metrics"]["g/loss"], json!([[10, 1.5], [20, 1.25]]));
        assert_eq!(d["events"].as_array().unwrap().len(), 1);
        assert_eq!(d["grids"][0]["step"], 10);
        assert!(d["grids"][0]["src"].as_str().unwrap().starts_with("data:image/png;base64,iVBOR"));
        let html = page(std::slice::from_ref(&run)).unwrap();
        assert!(html.contains("data-status=\"loading\"") && !html.contains("http://") && !html.contains("https://"));
        let err = page(&[t.path().to_path_buf()]).unwrap_err().to_string();
        assert!(err.contains("not a gantry run folder"), "{err}");
    }
}
