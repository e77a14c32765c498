//! `atlas report DIR`: one static HTML file (`DIR/report.html`) for a suite
//! output directory — score distributions as inline SVG, a per-route table,
//! top-down trajectories and the infraction list. No scripts, no server:
//! images are relative paths or inline SVG, so it opens from disk.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::suite::manifest::{Entry, Manifest, Record};

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const PALETTE: [&str; 6] = [
    "#2f6db5", "#d9822b", "#3a9d5d", "#b5403a", "#7d5ba6", "#5b7d8a",
];

/// Histogram of driving scores (10 bins over 0..=100) per policy, as SVG.
pub fn histogram_svg(by_policy: &BTreeMap<String, Vec<f64>>) -> String {
    const W: f64 = 560.0;
    const H: f64 = 220.0;
    const L: f64 = 40.0;
    const B: f64 = 30.0;
    let bins = 10usize;
    let counts: Vec<(String, Vec<usize>)> = by_policy
        .iter()
        .map(|(p, v)| {
            let mut c = vec![0usize; bins];
            for s in v {
                let i = ((s / 100.0 * bins as f64).floor() as isize).clamp(0, bins as isize - 1)
                    as usize;
                c[i] += 1;
            }
            (p.clone(), c)
        })
        .collect();
    let max = counts
        .iter()
        .flat_map(|(_, c)| c.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1);
    let np = counts.len().max(1);
    let plot_w = W - L - 10.0;
    let plot_h = H - B - 10.0;
    let bin_w = plot_w / bins as f64;
    let bar_w = (bin_w - 4.0) / np as f64;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"hist\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"driving score distribution\">"
    );
    let _ = write!(
        s,
        "<line x1=\"{L}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\" stroke=\"#333\"/>",
        H - B,
        W - 10.0
    );
    let _ = write!(
        s,
        "<line x1=\"{L}\" y1=\"10\" x2=\"{L}\" y2=\"{}\" stroke=\"#333\"/>",
        H - B
    );
    for k in 0..=bins {
        let x = L + k as f64 * bin_w;
        let _ = write!(
            s,
            "<text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
            H - B + 14.0,
            k * 10
        );
    }
    let _ = write!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">driving score</text>",
        L + plot_w / 2.0,
        H - 2.0
    );
    let _ = write!(
        s,
        "<text x=\"12\" y=\"18\" font-size=\"10\">{max}</text><text x=\"12\" y=\"{:.1}\" font-size=\"10\">0</text>",
        H - B
    );
    for (pi, (policy, c)) in counts.iter().enumerate() {
        let color = PALETTE[pi % PALETTE.len()];
        for (i, n) in c.iter().enumerate() {
            if *n == 0 {
                continue;
            }
            let h = *n as f64 / max as f64 * plot_h;
            let x = L + i as f64 * bin_w + 2.0 + pi as f64 * bar_w;
            let _ = write!(
                s,
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar_w:.1}\" height=\"{h:.1}\" fill=\"{color}\"><title>{}: {n} runs with DS {}-{}</title></rect>",
                H - B - h,
                esc(policy),
                i * 10,
                i * 10 + 10
            );
        }
        let _ = write!(
            s,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{color}\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\">{}</text>",
            W - 150.0,
            12.0 + pi as f64 * 14.0,
            W - 136.0,
            21.0 + pi as f64 * 14.0,
            esc(policy)
        );
    }
    s.push_str("</svg>");
    s
}

/// A top-down path as a small SVG (north up, equal axis scales).
pub fn trajectory_svg(points: &[[f64; 4]], infractions: &[(f64, f64)]) -> String {
    const S: f64 = 180.0;
    const PAD: f64 = 10.0;
    if points.is_empty() {
        return "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"traj\" width=\"180\" height=\"180\"><text x=\"10\" y=\"90\" font-size=\"11\">no trajectory</text></svg>".into();
    }
    let xs = points
        .iter()
        .map(|p| p[1])
        .chain(infractions.iter().map(|p| p.0));
    let ys = points
        .iter()
        .map(|p| p[2])
        .chain(infractions.iter().map(|p| p.1));
    let (x0, x1) = xs.fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(x), b.max(x)));
    let (y0, y1) = ys.fold((f64::MAX, f64::MIN), |(a, b), y| (a.min(y), b.max(y)));
    let span = (x1 - x0).max(y1 - y0).max(1.0);
    let scale = (S - 2.0 * PAD) / span;
    let cx = (x0 + x1) / 2.0;
    let cy = (y0 + y1) / 2.0;
    let map = |x: f64, y: f64| (S / 2.0 + (x - cx) * scale, S / 2.0 - (y - cy) * scale);
    let path: Vec<String> = points
        .iter()
        .map(|p| {
            let (u, v) = map(p[1], p[2]);
            format!("{u:.1},{v:.1}")
        })
        .collect();
    let (su, sv) = map(points[0][1], points[0][2]);
    let last = points[points.len() - 1];
    let (eu, ev) = map(last[1], last[2]);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"traj\" width=\"{S}\" height=\"{S}\" viewBox=\"0 0 {S} {S}\"><rect width=\"{S}\" height=\"{S}\" fill=\"#f4f4f0\"/><polyline points=\"{}\" fill=\"none\" stroke=\"#2f6db5\" stroke-width=\"2\"/><circle cx=\"{su:.1}\" cy=\"{sv:.1}\" r=\"4\" fill=\"#3a9d5d\"/><circle cx=\"{eu:.1}\" cy=\"{ev:.1}\" r=\"4\" fill=\"#333\"/>",
        path.join(" ")
    );
    for (x, y) in infractions {
        let (u, v) = map(*x, *y);
        let _ = write!(
            s,
            "<circle cx=\"{u:.1}\" cy=\"{v:.1}\" r=\"5\" fill=\"none\" stroke=\"#b5403a\" stroke-width=\"2\"/>"
        );
    }
    let _ = write!(
        s,
        "<text x=\"4\" y=\"{:.0}\" font-size=\"9\">{span:.0} m</text></svg>",
        S - 4.0
    );
    s
}

fn load_trajectory(dir: &Path) -> Vec<[f64; 4]> {
    let Ok(bytes) = std::fs::read(dir.join("trajectory.json")) else {
        return Vec::new();
    };
    serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| serde_json::from_value(v["t_x_y_yaw"].clone()).ok())
        .unwrap_or_default()
}

/// The run's top-down picture relative to the report: `runs/<id>/topdown.png`,
/// or the one the run's artifacts hold (`runs/<id>/artifacts/<run>/topdown.png`).
fn topdown(rdir: &Path, id: &str) -> Option<String> {
    if rdir.join("topdown.png").is_file() {
        return Some(format!("runs/{id}/topdown.png"));
    }
    let mut found: Vec<String> = std::fs::read_dir(rdir.join("artifacts"))
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("topdown.png").is_file())
        .map(|e| {
            format!(
                "runs/{id}/artifacts/{}/topdown.png",
                e.file_name().to_string_lossy()
            )
        })
        .collect();
    found.sort();
    found.into_iter().next()
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// Renders the report of suite output `dir` into `dir/report.html`.
pub fn write(dir: &Path) -> anyhow::Result<PathBuf> {
    let m = Manifest::load(dir)?;
    let html = render(&m, dir);
    let path = dir.join("report.html");
    crate::files::write_atomic(&path, html.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// The report's HTML for manifest `m` of directory `dir`.
pub fn render(m: &Manifest, dir: &Path) -> String {
    let fin: Vec<(&Entry, &Record)> = m
        .finished()
        .into_iter()
        .filter_map(|e| e.record.as_ref().map(|r| (e, r)))
        .collect();
    let failed = m.failed();
    let mut by_policy: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (e, r) in &fin {
        by_policy
            .entry(e.policy.clone())
            .or_default()
            .push(r.score_composed);
    }
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>ATLAS suite {name}</title><style>\
body{{font-family:sans-serif;margin:24px;color:#222}}table{{border-collapse:collapse;margin:8px 0 20px}}\
th,td{{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left}}th{{background:#eee}}\
td.num{{text-align:right;font-variant-numeric:tabular-nums}}.runs{{display:flex;flex-wrap:wrap;gap:12px}}\
figure{{margin:0;border:1px solid #ddd;padding:6px}}figcaption{{font-size:11px;max-width:180px}}.bad{{color:#b5403a}}\
</style></head><body>\n<h1>Suite <span id=\"suite-name\">{name}</span></h1>\n",
        name = esc(&m.suite)
    );
    let _ = writeln!(
        h,
        "<p id=\"counts\">{} runs planned, {} finished, {} failed, {} without a result. Source: {}</p>",
        m.planned,
        fin.len(),
        failed.len(),
        m.planned.saturating_sub(fin.len()),
        esc(&m.suite_file)
    );

    h.push_str("<h2>Driving score by policy</h2>\n<table id=\"policies\"><tr><th>policy</th><th>runs</th><th>mean DS</th><th>min</th><th>max</th></tr>\n");
    for (p, v) in &by_policy {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{:.2}</td><td class=\"num\">{:.2}</td><td class=\"num\">{:.2}</td></tr>",
            esc(p),
            v.len(),
            mean(v),
            v.iter().copied().fold(f64::INFINITY, f64::min),
            v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        );
    }
    h.push_str("</table>\n<h2>Score distribution</h2>\n");
    h.push_str(&histogram_svg(&by_policy));

    // Per route (or scenario) and policy.
    let mut routes: BTreeMap<(String, String, String), Vec<&Record>> = BTreeMap::new();
    for (e, r) in &fin {
        routes
            .entry((
                format!("{:?}", e.kind).to_lowercase(),
                r.route_id.clone(),
                e.policy.clone(),
            ))
            .or_default()
            .push(r);
    }
    h.push_str("\n<h2>Routes and scenarios</h2>\n<table id=\"routes\"><tr><th>kind</th><th>route</th><th>policy</th><th>runs</th><th>mean DS</th><th>mean RC %</th><th>mean penalty</th><th>infractions</th><th>statuses</th></tr>\n");
    for ((kind, route, policy), rs) in &routes {
        let ds: Vec<f64> = rs.iter().map(|r| r.score_composed).collect();
        let rc: Vec<f64> = rs.iter().map(|r| r.score_route).collect();
        let pen: Vec<f64> = rs.iter().map(|r| r.score_penalty).collect();
        let mut statuses: BTreeMap<&str, usize> = BTreeMap::new();
        for r in rs {
            *statuses.entry(r.status.as_str()).or_default() += 1;
        }
        let st: Vec<String> = statuses
            .iter()
            .map(|(s, n)| format!("{} ×{n}", esc(s)))
            .collect();
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"route\">{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{:.2}</td><td class=\"num\">{:.1}</td><td class=\"num\">{:.3}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            esc(kind),
            esc(route),
            esc(policy),
            rs.len(),
            mean(&ds),
            mean(&rc),
            mean(&pen),
            rs.iter().map(|r| r.num_infractions).sum::<u32>(),
            st.join(", ")
        );
    }
    h.push_str("</table>\n<h2>Top-down trajectories</h2>\n<div class=\"runs\">\n");
    for (e, r) in &fin {
        let rdir = dir.join("runs").join(&e.id);
        let caption = format!(
            "{} · {} · seed {} · rep {} · DS {:.1} · {}",
            esc(&r.route_id),
            esc(&e.policy),
            r.seed,
            e.repetition,
            r.score_composed,
            esc(&r.status)
        );
        let image = if let Some(rel) = topdown(&rdir, &e.id) {
            format!(
                "<img src=\"{}\" width=\"180\" alt=\"top-down view of run {}\">",
                esc(&rel),
                esc(&e.id)
            )
        } else {
            let inf: Vec<(f64, f64)> = r.infractions.iter().map(|i| (i.x, i.y)).collect();
            trajectory_svg(&load_trajectory(&rdir), &inf)
        };
        let _ = writeln!(
            h,
            "<figure id=\"run-{}\">{image}<figcaption>{caption}</figcaption></figure>",
            esc(&e.id)
        );
    }
    h.push_str("</div>\n<h2>Infractions</h2>\n<table id=\"infractions\"><tr><th>run</th><th>route</th><th>policy</th><th>seed</th><th>category</th><th>message</th><th>t (s)</th><th>x</th><th>y</th></tr>\n");
    let mut n_inf = 0;
    for (e, r) in &fin {
        for i in &r.infractions {
            n_inf += 1;
            let _ = writeln!(
                h,
                "<tr><td><a href=\"#run-{id}\">{id}</a></td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"cat\">{}</td><td>{}</td><td class=\"num\">{:.1}</td><td class=\"num\">{:.1}</td><td class=\"num\">{:.1}</td></tr>",
                esc(&r.route_id),
                esc(&e.policy),
                r.seed,
                esc(&i.category),
                esc(&i.message),
                i.sim_time_s,
                i.x,
                i.y,
                id = esc(&e.id)
            );
        }
    }
    h.push_str("</table>\n");
    if n_inf == 0 {
        h.push_str("<p>No infractions.</p>\n");
    }
    if !failed.is_empty() {
        h.push_str("<h2 class=\"bad\">Runs without a result</h2>\n<table id=\"failed\"><tr><th>run</th><th>file</th><th>policy</th><th>attempts</th><th>error</th></tr>\n");
        for e in &failed {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                esc(&e.id),
                esc(&e.file),
                esc(&e.policy),
                e.attempts.len(),
                esc(e.error.as_deref().unwrap_or(""))
            );
        }
        h.push_str("</table>\n");
    }
    h.push_str("</body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn histogram_has_a_bar_per_filled_bin_and_policy() {
        let mut m = BTreeMap::new();
        m.insert("a".to_string(), vec![0.0, 5.0, 100.0]);
        m.insert("b<x>".to_string(), vec![55.0]);
        let s = histogram_svg(&m);
        // a: bins 0 and 9; b: bin 5; plus two legend swatches.
        assert_eq!(s.matches("<rect").count(), 3 + 2);
        assert!(s.contains("a: 2 runs with DS 0-10"));
        assert!(s.contains("b&lt;x&gt;"));
    }

    #[test]
    fn trajectory_fits_the_box() {
        let pts = [
            [0.0, 100.0, -50.0, 0.0],
            [1.0, 300.0, -50.0, 0.0],
            [2.0, 300.0, 50.0, 0.0],
        ];
        let s = trajectory_svg(&pts, &[(200.0, -50.0)]);
        assert!(s.contains("<polyline"));
        let pts = s
            .split("points=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let nums: Vec<f64> = pts.split([',', ' ']).map(|t| t.parse().unwrap()).collect();
        assert_eq!(nums.len(), 6);
        for n in nums {
            assert!((0.0..=180.0).contains(&n), "{n} outside the image");
        }
        assert!(s.contains("200 m"));
    }
}
