//! `gantry data make shapes-captions`: captioned scenes for text-to-image methods (StackGAN).
//!
//! Each 128 × 128 scene holds one to three objects on black: a circle, square, triangle,
//! diamond or letter, each with a colour (eight), a size (small or large), a fill (filled or
//! outlined) and the fine attributes that Stage-I's 32 × 32 cannot resolve: an outline's stroke
//! (a solid line at half strength, or a dashed one at full strength, dash and gap 2.25 px each:
//! one width, the same ink), a filled shape's texture (a plain fill at 0.65 of the colour, or
//! diagonal stripes of full and 0.3 strength with a 3 px period: the same mean) and a letter's
//! identity (eight letters, one bold font; letters are always small, 7–10 px tall, 2–2.5 px at
//! Stage I's side). Two objects may be one
//! inside the other (a small object centred in a large outlined shape); the others do not
//! overlap. Ten captions per scene come from a grammar with synonyms and varied word order, and
//! each caption's meaning (which objects it mentions, with which attributes, and which
//! relations: left of, right of, above, below, inside, larger, smaller) is written beside it, so
//! an attribute judge can score a generated image against the caption it was drawn from.
//!
//! Four colour–shape combinations never occur in training (green triangle, blue circle, yellow
//! square, purple diamond); half the test scenes hold one of them (`held_out`), so a test of
//! novel compositions needs no second set.
//!
//! Layout (what `data::captions` reads): `train/images/NNNNN.png`, `train/text/NNNNN.txt` (one
//! caption a line), `train/scenes.jsonl` (the objects and each caption's meaning), and the same
//! under `test/`.
use crate::data::scenes::*;
use crate::error::{Error, Result};
use crate::rng::{self, SplitMix};
use ab_glyph::{Font, FontVec, PxScale};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// Draws the objects of one scene.
fn draw_objects(r: &mut SplitMix, held_out: Option<(Colour, ShapeKind)>, train: bool) -> Vec<Object> {
    'scene: loop {
        let count = match r.below(10) {
            0..=2 => 1,
            3..=6 => 2,
            _ => 3,
        };
        let mut objects: Vec<Object> = vec![];
        let nested = count >= 2 && r.below(10) < 3;
        for i in 0..count {
            let forced = if i == 0 { held_out } else { None };
            let container = nested && i == 0;
            let inner = nested && i == 1;
            let mut o = loop {
                let o = draw_object(r, forced, container, inner);
                let banned = HELD_OUT.contains(&(o.colour, o.shape)) && (train || held_out.is_none());
                if forced.is_some() || !banned {
                    break o;
                }
            };
            if inner {
                let c = &objects[0];
                o.x = c.x + (r.next_f64() as f32 - 0.5) * 4.0;
                o.y = c.y + (r.next_f64() as f32 - 0.5) * 4.0 + if c.shape == ShapeKind::Triangle { 5.0 } else { 0.0 };
                o.inside = Some(0);
                objects.push(o);
                continue;
            }
            let mut placed = false;
            for _ in 0..200 {
                let span = SIDE as f32 - 2.0 * (o.r + 3.0);
                o.x = o.r + 3.0 + r.next_f64() as f32 * span;
                o.y = o.r + 3.0 + r.next_f64() as f32 * span;
                let clear = objects
                    .iter()
                    .filter(|p| p.inside.is_none())
                    .all(|p| (p.x - o.x).abs().max((p.y - o.y).abs()) > p.r + o.r + 4.0);
                if clear {
                    placed = true;
                    break;
                }
            }
            if !placed {
                continue 'scene;
            }
            objects.push(o);
        }
        return objects;
    }
}

fn pick<T: Copy>(r: &mut SplitMix, xs: &[T]) -> T {
    xs[r.below(xs.len() as u64) as usize]
}

fn draw_object(r: &mut SplitMix, forced: Option<(Colour, ShapeKind)>, container: bool, inner: bool) -> Object {
    let shape = match forced {
        Some((_, s)) => s,
        None if container => pick(r, &[ShapeKind::Circle, ShapeKind::Square, ShapeKind::Diamond, ShapeKind::Triangle]),
        None => pick(r, ShapeKind::ALL),
    };
    let colour = forced.map_or_else(|| pick(r, Colour::ALL), |(c, _)| c);
    // letters are small: their identity is one of the details Stage-I cannot resolve
    let size = if container {
        Size::Large
    } else if inner || shape == ShapeKind::Letter {
        Size::Small
    } else {
        pick(r, Size::ALL)
    };
    let fill = if shape == ShapeKind::Letter || inner {
        Fill::Filled
    } else if container {
        Fill::Outlined
    } else {
        pick(r, Fill::ALL)
    };
    let stroke = if fill == Fill::Outlined { pick(r, Stroke::ALL) } else { Stroke::Solid };
    let texture =
        if fill == Fill::Filled && shape != ShapeKind::Letter { pick(r, Texture::ALL) } else { Texture::Plain };
    let glyph = (shape == ShapeKind::Letter).then(|| pick(r, &GLYPHS));
    let radius = if container {
        26.0 + r.next_f64() as f32 * 4.0
    } else if inner {
        9.0 + r.next_f64() as f32 * 2.0
    } else if size == Size::Small {
        9.0 + r.next_f64() as f32 * 4.0
    } else {
        19.0 + r.next_f64() as f32 * 6.0
    };
    Object { shape, glyph, colour, size, fill, stroke, texture, x: 0.0, y: 0.0, r: radius, inside: None }
}

/// Whether local point (u, v) (units of the half extent, y down) lies in the shape.
fn inside_shape(shape: ShapeKind, u: f32, v: f32) -> bool {
    match shape {
        ShapeKind::Circle => u * u + v * v <= 1.0,
        ShapeKind::Square => u.abs().max(v.abs()) <= 0.86,
        ShapeKind::Triangle => (-0.95..=0.75).contains(&v) && u.abs() <= (v + 0.95) / 1.7,
        ShapeKind::Diamond => u.abs() + v.abs() <= 1.05,
        ShapeKind::Letter => false,
    }
}

/// The shape's centre for shrinking its outline (the triangle's centroid sits low).
fn centre_v(shape: ShapeKind) -> f32 {
    if shape == ShapeKind::Triangle { 0.18 } else { 0.0 }
}

/// The font letters are drawn in: DejaVu Sans Bold when installed, else the first installed
/// face that has every letter of `GLYPHS`.
fn letter_font() -> Result<(PathBuf, FontVec)> {
    let fonts = super::installed_fonts()?;
    let has_all = |f: &FontVec| GLYPHS.iter().all(|&c| f.glyph_id(c.to_ascii_uppercase()).0 != 0);
    fonts
        .iter()
        .position(|(p, f)| p.to_string_lossy().contains("DejaVuSans-Bold.") && has_all(f))
        .or_else(|| fonts.iter().position(|(_, f)| has_all(f)))
        .map(|i| fonts.into_iter().nth(i).expect("found"))
        .ok_or_else(|| Error::Data {
            path: "/usr/share/fonts".into(),
            msg:
                "holds no font with the letters A E F H K M R T; install one, e.g. `apt-get install fonts-dejavu-core`"
                    .into(),
        })
}

/// Renders a scene as RGB bytes (128 × 128 × 3), supersampled 2 × 2.
pub fn render(objects: &[Object], font: &FontVec) -> Vec<u8> {
    const SS: usize = 2;
    let big = SIDE * SS;
    let mut acc = vec![0f32; big * big * 3];
    for o in objects {
        let letter_mask = o.glyph.map(|g| glyph_mask(font, g, o, SS));
        // a solid line is drawn at half strength and a dashed one at full strength with gaps
        // as long as its dashes: one width, the same ink, so at Stage I's side they look alike
        let t = if o.size == Size::Small { 2.5 } else { 3.5 } / o.r;
        // dash and gap 2.25 px each: one pixel of Stage-I's 32 × 32
        let dashes = (std::f32::consts::TAU * o.r / 2.25).round();
        let (x0, x1) =
            (((o.x - o.r - 2.0) * SS as f32).max(0.0) as usize, (((o.x + o.r + 2.0) * SS as f32) as usize).min(big));
        let (y0, y1) =
            (((o.y - o.r - 2.0) * SS as f32).max(0.0) as usize, (((o.y + o.r + 2.0) * SS as f32) as usize).min(big));
        let rgb = o.colour.rgb();
        for py in y0..y1 {
            for px in x0..x1 {
                let (fx, fy) = ((px as f32 + 0.5) / SS as f32, (py as f32 + 0.5) / SS as f32);
                let (u, v) = ((fx - o.x) / o.r, (fy - o.y) / o.r);
                let level = match (&letter_mask, o.fill) {
                    (Some(m), _) => m[py * big + px],
                    (None, Fill::Filled) => {
                        if !inside_shape(o.shape, u, v) {
                            0.0
                        } else if o.texture == Texture::Striped {
                            // stripes of full and 0.3 strength: on average the plain fill's 0.65
                            if ((fx + fy) / 1.5).floor() as i64 % 2 == 1 { 0.3 } else { 1.0 }
                        } else {
                            0.65
                        }
                    }
                    (None, Fill::Outlined) => {
                        let c = centre_v(o.shape);
                        let k = 1.0 / (1.0 - t);
                        let ring = inside_shape(o.shape, u, v) && !inside_shape(o.shape, u * k, (v - c) * k + c);
                        let gap = o.stroke == Stroke::Dashed && {
                            let a = (v - c).atan2(u) + std::f32::consts::PI;
                            (a / std::f32::consts::TAU * dashes).floor() as i64 % 2 == 1
                        };
                        match (ring && !gap, o.stroke) {
                            (false, _) => 0.0,
                            (true, Stroke::Solid) => 0.5,
                            (true, Stroke::Dashed) => 1.0,
                        }
                    }
                };
                if level > 0.0 {
                    let i = (py * big + px) * 3;
                    for ch in 0..3 {
                        acc[i + ch] = rgb[ch] * level;
                    }
                }
            }
        }
    }
    let mut out = vec![0u8; SIDE * SIDE * 3];
    for y in 0..SIDE {
        for x in 0..SIDE {
            for ch in 0..3 {
                let mut s = 0.0;
                for dy in 0..SS {
                    for dx in 0..SS {
                        s += acc[((y * SS + dy) * big + x * SS + dx) * 3 + ch];
                    }
                }
                out[(y * SIDE + x) * 3 + ch] = (s / (SS * SS) as f32).round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    out
}

/// A letter's coverage on the supersampled canvas: the capital, its ink box fitted to 0.8 r
/// high and centred on the object.
fn glyph_mask(font: &FontVec, glyph: char, o: &Object, ss: usize) -> Vec<f32> {
    let big = SIDE * ss;
    let mut mask = vec![0f32; big * big];
    let id = font.glyph_id(glyph.to_ascii_uppercase());
    let probe = font.outline_glyph(id.with_scale_and_position(PxScale::from(100.0), ab_glyph::point(0.0, 0.0)));
    let Some(probe) = probe else { return mask };
    let b = probe.px_bounds();
    let scale = 100.0 * (0.8 * o.r * ss as f32) / (b.max.y - b.min.y).max(1.0);
    let glyph = id.with_scale_and_position(PxScale::from(scale), ab_glyph::point(0.0, 0.0));
    let Some(outline) = font.outline_glyph(glyph) else { return mask };
    let b = outline.px_bounds();
    let (ox, oy) =
        (o.x * ss as f32 - (b.max.x - b.min.x) / 2.0 - b.min.x, o.y * ss as f32 - (b.max.y - b.min.y) / 2.0 - b.min.y);
    outline.draw(|x, y, cov| {
        let (px, py) = ((b.min.x + ox) as i64 + x as i64, (b.min.y + oy) as i64 + y as i64);
        if (0..big as i64).contains(&px) && (0..big as i64).contains(&py) {
            mask[py as usize * big + px as usize] = cov.min(1.0);
        }
    });
    mask
}

/// Words for an attribute value: the first is the plain name, the rest synonyms.
fn size_words(s: Size) -> &'static [&'static str] {
    match s {
        Size::Small => &["small", "little", "tiny"],
        Size::Large => &["large", "big"],
    }
}

fn colour_words(c: Colour) -> &'static [&'static str] {
    match c {
        Colour::Purple => &["purple", "violet"],
        Colour::White => &["white"],
        _ => std::slice::from_ref(match c {
            Colour::Red => &"red",
            Colour::Green => &"green",
            Colour::Blue => &"blue",
            Colour::Yellow => &"yellow",
            Colour::Orange => &"orange",
            _ => &"cyan",
        }),
    }
}

fn noun(r: &mut SplitMix, o: &Object) -> String {
    match o.shape {
        ShapeKind::Circle if o.fill == Fill::Outlined => pick(r, &["circle", "ring"]).into(),
        ShapeKind::Circle => pick(r, &["circle", "disc"]).into(),
        ShapeKind::Square => pick(r, &["square", "box"]).into(),
        ShapeKind::Triangle => "triangle".into(),
        ShapeKind::Diamond => pick(r, &["diamond", "rhombus"]).into(),
        ShapeKind::Letter => format!("{} {}", pick(r, &["letter", "character"]), o.glyph.expect("a letter's glyph")),
    }
}

fn article(next: &str) -> &'static str {
    if next.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" }
}

/// A noun phrase for object `i`, and what it mentions.
fn noun_phrase(r: &mut SplitMix, o: &Object, i: usize) -> (String, Mention) {
    let mut m =
        Mention { object: i, shape: Some(o.shape), glyph: o.glyph, colour: Some(o.colour), ..Default::default() };
    let size = (r.next_f64() < 0.6).then(|| {
        m.size = Some(o.size);
        pick(r, size_words(o.size))
    });
    let style: Option<&str> = if o.shape == ShapeKind::Letter || r.next_f64() >= 0.75 {
        None
    } else if r.next_f64() < 0.65 {
        // the fine attribute, which implies the fill
        m.fill = Some(o.fill);
        Some(match (o.fill, o.stroke, o.texture) {
            (Fill::Outlined, Stroke::Dashed, _) => {
                m.stroke = Some(Stroke::Dashed);
                pick(r, &["dashed", "broken"])
            }
            (Fill::Outlined, Stroke::Solid, _) => {
                m.stroke = Some(Stroke::Solid);
                pick(r, &["unbroken", "solid-line"])
            }
            (_, _, Texture::Striped) => {
                m.texture = Some(Texture::Striped);
                pick(r, &["striped", "stripy"])
            }
            _ => {
                m.texture = Some(Texture::Plain);
                pick(r, &["plain", "smooth"])
            }
        })
    } else {
        m.fill = Some(o.fill);
        Some(match o.fill {
            Fill::Filled => pick(r, &["filled", "solid"]),
            Fill::Outlined => pick(r, &["outlined", "hollow"]),
        })
    };
    let colour = pick(r, colour_words(o.colour));
    let n = noun(r, o);
    let words: Vec<&str> = if r.next_f64() < 0.7 {
        [size, style, Some(colour), Some(n.as_str())].into_iter().flatten().collect()
    } else {
        let mut w: Vec<&str> = [size, style, Some(n.as_str())].into_iter().flatten().collect();
        w.push(pick(r, &["in", "coloured"]));
        w.push(colour);
        w
    };
    let text = words.join(" ");
    (format!("{} {text}", article(&text)), m)
}

fn cell_phrase(r: &mut SplitMix, (row, col): (u8, u8)) -> &'static str {
    match (row, col) {
        (0, 0) => pick(r, &["in the top left", "at the top left"]),
        (0, 1) => pick(r, &["at the top", "near the top"]),
        (0, 2) => pick(r, &["in the top right", "at the top right"]),
        (1, 0) => pick(r, &["on the left", "at the left"]),
        (1, 1) => pick(r, &["in the middle", "in the centre"]),
        (1, 2) => pick(r, &["on the right", "at the right"]),
        (2, 0) => pick(r, &["in the bottom left", "at the bottom left"]),
        (2, 1) => pick(r, &["at the bottom", "near the bottom"]),
        _ => pick(r, &["in the bottom right", "at the bottom right"]),
    }
}

fn relation_phrase(r: &mut SplitMix, rel: Relation) -> &'static str {
    match rel {
        Relation::Left => pick(r, &["left of", "to the left of"]),
        Relation::Right => pick(r, &["right of", "to the right of"]),
        Relation::Above => pick(r, &["above", "over"]),
        Relation::Below => pick(r, &["below", "under", "beneath"]),
        Relation::Inside => pick(r, &["inside", "within", "in"]),
        Relation::Larger => pick(r, &["larger than", "bigger than"]),
        Relation::Smaller => pick(r, &["smaller than"]),
    }
}

fn is_spatial(rel: Relation) -> bool {
    !matches!(rel, Relation::Larger | Relation::Smaller)
}

/// "X is REL Y", "X REL Y", "there is X REL Y" (spatial relations only for the last two).
fn relation_sentence(r: &mut SplitMix, a: &str, rel: Relation, b: &str) -> String {
    let p = relation_phrase(r, rel);
    match (is_spatial(rel), r.below(3)) {
        (true, 0) => format!("{a} {p} {b}"),
        (true, 1) => format!("there is {a} {p} {b}"),
        _ => format!("{a} is {p} {b}"),
    }
}

/// One caption of a scene.
pub fn caption(r: &mut SplitMix, objects: &[Object]) -> Caption {
    let mut mentions = vec![];
    let mut relations_said = vec![];
    let np = |r: &mut SplitMix, i: usize, mentions: &mut Vec<Mention>| {
        let (t, m) = noun_phrase(r, &objects[i], i);
        mentions.push(m);
        t
    };
    let text = match objects.len() {
        1 => {
            let a = np(r, 0, &mut mentions);
            match objects[0].cell().filter(|_| r.next_f64() < 0.7) {
                Some(cell) => {
                    mentions[0].cell = Some(cell);
                    let p = cell_phrase(r, cell);
                    match r.below(3) {
                        0 => format!("{a} {p}"),
                        1 => format!("{p} there is {a}"),
                        _ => format!("there is {a} {p}"),
                    }
                }
                None => a,
            }
        }
        n => {
            // the first relation between two objects, then (three objects) the third one's
            // relation to either, said with a bare noun for the one already described
            let order: Vec<usize> = rng::permutation(n, r.next_u64()).into_iter().map(|i| i as usize).collect();
            let (a, b) = (order[0], order[1]);
            let rels = relations(&objects[a], a, &objects[b], b);
            let (ta, tb) = (np(r, a, &mut mentions), np(r, b, &mut mentions));
            let first = if rels.is_empty() || r.next_f64() < 0.1 {
                format!("{ta} and {tb}")
            } else {
                let rel = pick(r, &rels);
                relations_said.push((a, rel, b));
                relation_sentence(r, &ta, rel, &tb)
            };
            if n == 2 {
                first
            } else {
                let c = order[2];
                let other = if r.next_f64() < 0.5 { a } else { b };
                let rels = relations(&objects[c], c, &objects[other], other);
                let tc = np(r, c, &mut mentions);
                if rels.is_empty() || r.next_f64() < 0.1 {
                    format!("{first}, and {tc}")
                } else {
                    let rel = pick(r, &rels);
                    relations_said.push((c, rel, other));
                    let bare = format!("the {}", noun(r, &objects[other]));
                    format!("{first}, and {}", relation_sentence(r, &tc, rel, &bare))
                }
            }
        }
    };
    Caption { text, mentions, relations: relations_said }
}

/// Writes the set: `limit` caps the scenes of each split (0: 10,000 train, 1,000 test).
pub fn make(out: &Path, limit: usize, seed: u64) -> Result<(Vec<usize>, String)> {
    let (font_path, font) = letter_font()?;
    let mut counts = vec![];
    for (split, full, index) in [("train", TRAIN_SCENES, 0u64), ("test", TEST_SCENES, 1)] {
        let n = if limit > 0 { full.min(limit) } else { full };
        let (images, text) = (out.join(split).join("images"), out.join(split).join("text"));
        for d in [&images, &text] {
            std::fs::create_dir_all(d).map_err(crate::error::io_err(d))?;
        }
        let scenes: Vec<Scene> = (0..n)
            .into_par_iter()
            .map(|i| {
                let mut r =
                    SplitMix::new(rng::derive(seed, rng::stream::AUGMENT, 7_000_000 + index * 1_000_000 + i as u64));
                let held = (index == 1 && r.next_f64() < 0.5).then(|| pick(&mut r, &HELD_OUT));
                let objects = draw_objects(&mut r, held, index == 0);
                let captions = (0..CAPTIONS_PER_SCENE).map(|_| caption(&mut r, &objects)).collect();
                let file = format!("{i:05}");
                let rgb = render(&objects, &font);
                let p = images.join(format!("{file}.png"));
                image::save_buffer(&p, &rgb, SIDE as u32, SIDE as u32, image::ColorType::Rgb8)
                    .map_err(|e| Error::Data { path: p.clone(), msg: format!("could not be written: {e}") })?;
                let scene = Scene { file, objects, held_out: held.is_some(), captions };
                let p = text.join(format!("{}.txt", scene.file));
                let lines: String = scene.captions.iter().map(|c| format!("{}\n", c.text)).collect();
                std::fs::write(&p, lines).map_err(crate::error::io_err(&p))?;
                Ok(scene)
            })
            .collect::<Result<_>>()?;
        let p = out.join(split).join("scenes.jsonl");
        let lines: String =
            scenes.iter().map(|s| serde_json::to_string(s).expect("a scene serialises") + "\n").collect();
        std::fs::write(&p, lines).map_err(crate::error::io_err(&p))?;
        counts.push(n);
    }
    Ok((counts, font_path.display().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(shape: ShapeKind, size: Size, x: f32, y: f32) -> Object {
        Object {
            shape,
            glyph: None,
            colour: Colour::Red,
            size,
            fill: Fill::Filled,
            stroke: Stroke::Solid,
            texture: Texture::Plain,
            x,
            y,
            r: if size == Size::Small { 10.0 } else { 22.0 },
            inside: None,
        }
    }

    #[test]
    fn relations_are_those_plain_to_see() {
        let a = obj(ShapeKind::Circle, Size::Small, 20.0, 60.0);
        let b = obj(ShapeKind::Square, Size::Large, 90.0, 70.0);
        assert_eq!(relations(&a, 0, &b, 1), vec![Relation::Left, Relation::Smaller]);
        assert_eq!(relations(&b, 1, &a, 0), vec![Relation::Right, Relation::Larger]);
        // diagonal: neither axis dominates by 16 px, so no spatial relation is claimed
        let c = obj(ShapeKind::Circle, Size::Small, 30.0, 30.0);
        let d = obj(ShapeKind::Circle, Size::Small, 40.0, 100.0);
        assert_eq!(relations(&c, 0, &d, 1), vec![Relation::Above]);
        let e = obj(ShapeKind::Circle, Size::Small, 50.0, 50.0);
        let f = obj(ShapeKind::Circle, Size::Small, 60.0, 58.0);
        assert!(relations(&e, 0, &f, 1).is_empty());
        let mut inner = obj(ShapeKind::Circle, Size::Small, 60.0, 60.0);
        inner.inside = Some(1);
        assert_eq!(relations(&inner, 0, &b, 1), vec![Relation::Inside, Relation::Smaller]);
    }

    #[test]
    fn cells_need_a_margin() {
        assert_eq!(obj(ShapeKind::Circle, Size::Small, 20.0, 20.0).cell(), Some((0, 0)));
        assert_eq!(obj(ShapeKind::Circle, Size::Small, 64.0, 110.0).cell(), Some((2, 1)));
        // 2 px from the border between the first and second column
        assert_eq!(obj(ShapeKind::Circle, Size::Small, 44.7, 64.0).cell(), None);
    }

    #[test]
    fn captions_say_what_the_scene_holds() {
        let mut r = SplitMix::new(3);
        for _ in 0..200 {
            let objects = draw_objects(&mut r, None, true);
            assert!((1..=3).contains(&objects.len()));
            for o in &objects {
                assert!(!HELD_OUT.contains(&(o.colour, o.shape)), "held-out pair in training: {o:?}");
                assert!(o.x - o.r >= 0.0 && o.x + o.r <= SIDE as f32 && o.y - o.r >= 0.0 && o.y + o.r <= SIDE as f32);
            }
            let c = caption(&mut r, &objects);
            assert_eq!(c.mentions.len(), objects.len(), "{c:?}");
            for m in &c.mentions {
                let o = &objects[m.object];
                assert_eq!(m.colour, Some(o.colour));
                assert!(c.text.contains(o.colour.name()) || (o.colour == Colour::Purple && c.text.contains("violet")));
                assert_eq!(m.shape, Some(o.shape));
                for (said, truth) in
                    [(m.size.map(|s| s.index()), o.size.index()), (m.fill.map(|f| f.index()), o.fill.index())]
                {
                    assert!(said.is_none_or(|s| s == truth), "{c:?} {o:?}");
                }
                assert!(m.stroke.is_none_or(|s| s == o.stroke) && m.texture.is_none_or(|t| t == o.texture));
                if let Some(cell) = m.cell {
                    assert_eq!(Some(cell), o.cell());
                }
            }
            for &(a, rel, b) in &c.relations {
                assert!(relations(&objects[a], a, &objects[b], b).contains(&rel), "{c:?}");
            }
        }
    }

    #[test]
    fn fine_attributes_vanish_at_stage_one() {
        // a striped fill and a dashed outline differ from their plain forms at 128 px, but
        // carry the same ink: after Stage I's 4 × 4 average they look alike
        let Ok((_, font)) = letter_font() else { return };
        let pool = |x: &[u8]| -> Vec<f32> {
            let mut out = vec![0f32; 32 * 32];
            for (i, v) in x.iter().enumerate() {
                let p = i / 3;
                out[(p / SIDE / 4) * 32 + (p % SIDE) / 4] += *v as f32 / 48.0;
            }
            out
        };
        let mean_abs = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.len() as f32;
        let std = |a: &[f32]| {
            let m = a.iter().sum::<f32>() / a.len() as f32;
            (a.iter().map(|v| (v - m).powi(2)).sum::<f32>() / a.len() as f32).sqrt()
        };
        let crop128 = |x: &[u8]| -> Vec<f32> {
            (48..80).flat_map(|y| (48..80).map(move |xx| x[(y * SIDE + xx) * 3] as f32)).collect()
        };
        let mut plain = obj(ShapeKind::Square, Size::Large, 64.0, 64.0);
        plain.colour = Colour::White;
        let mut striped = plain.clone();
        striped.texture = Texture::Striped;
        let (a, b) = (render(&[plain.clone()], &font), render(&[striped], &font));
        let (sa, sb) = (std(&crop128(&a)), std(&crop128(&b)));
        assert!(sb > 40.0 && sa < 1.0, "{sb} {sa}");
        let d = mean_abs(&pool(&a), &pool(&b));
        assert!(d < 2.0, "pooled plain and striped differ by {d} levels");
        let mut solid = plain.clone();
        solid.fill = Fill::Outlined;
        let mut dashed = solid.clone();
        dashed.stroke = Stroke::Dashed;
        let (a, b) = (render(&[solid], &font), render(&[dashed], &font));
        let ink = |x: &[u8]| x.iter().map(|&v| v as f64).sum::<f64>();
        let ratio = ink(&b) / ink(&a);
        assert!((0.85..1.15).contains(&ratio), "dashed/solid ink {ratio}");
    }
}
