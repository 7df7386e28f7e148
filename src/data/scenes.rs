//! The scene records of gantry's captioned set (`gantry data make shapes-captions`, drawn by
//! `datamake::scenes`): each scene's objects with their attributes and positions, and each
//! caption's meaning (the objects it mentions, with which attributes, and the relations it
//! states), read back by `data::captions` for the attribute judge.
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Side of the rendered scenes.
pub const SIDE: usize = 128;
/// Scenes per split when `--limit` does not lower them.
pub const TRAIN_SCENES: usize = 10_000;
pub const TEST_SCENES: usize = 1_000;
pub const CAPTIONS_PER_SCENE: usize = 10;

macro_rules! attribute {
    ($(#[$m:meta])* $name:ident { $($v:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name { $($v),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$v),+];
            pub fn name(self) -> &'static str {
                match self { $($name::$v => $s),+ }
            }
            /// The class index the attribute judge predicts.
            pub fn index(self) -> usize {
                Self::ALL.iter().position(|&v| v == self).expect("listed")
            }
        }
    };
}

attribute!(
    /// An object's outline.
    ShapeKind { Circle = "circle", Square = "square", Triangle = "triangle", Diamond = "diamond", Letter = "letter" }
);
attribute!(Colour {
    Red = "red",
    Green = "green",
    Blue = "blue",
    Yellow = "yellow",
    Purple = "purple",
    Orange = "orange",
    Cyan = "cyan",
    White = "white",
});
attribute!(Size { Small = "small", Large = "large" });
attribute!(Fill { Filled = "filled", Outlined = "outlined" });
attribute!(
    /// An outline's line (a filled object's is solid).
    Stroke { Solid = "solid", Dashed = "dashed" }
);
attribute!(
    /// A filled shape's surface (outlines and letters are plain).
    Texture { Plain = "plain", Striped = "striped" }
);
attribute!(Relation {
    Left = "left",
    Right = "right",
    Above = "above",
    Below = "below",
    Inside = "inside",
    Larger = "larger",
    Smaller = "smaller",
});

/// The letters a letter object may be.
pub const GLYPHS: [char; 8] = ['a', 'e', 'f', 'h', 'k', 'm', 'r', 't'];

/// Colour–shape pairs kept out of the training split.
pub const HELD_OUT: [(Colour, ShapeKind); 4] = [
    (Colour::Green, ShapeKind::Triangle),
    (Colour::Blue, ShapeKind::Circle),
    (Colour::Yellow, ShapeKind::Square),
    (Colour::Purple, ShapeKind::Diamond),
];

impl Colour {
    pub fn rgb(self) -> [f32; 3] {
        match self {
            Colour::Red => [225.0, 35.0, 35.0],
            Colour::Green => [35.0, 185.0, 60.0],
            Colour::Blue => [45.0, 85.0, 235.0],
            Colour::Yellow => [240.0, 220.0, 35.0],
            Colour::Purple => [155.0, 55.0, 205.0],
            Colour::Orange => [250.0, 140.0, 25.0],
            Colour::Cyan => [35.0, 205.0, 215.0],
            Colour::White => [235.0, 235.0, 235.0],
        }
    }
}

/// One object of a scene; positions in pixels of the 128 × 128 image.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Object {
    pub shape: ShapeKind,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub glyph: Option<char>,
    pub colour: Colour,
    pub size: Size,
    pub fill: Fill,
    pub stroke: Stroke,
    pub texture: Texture,
    /// Centre and half extent.
    pub x: f32,
    pub y: f32,
    pub r: f32,
    /// The object this one sits inside.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub inside: Option<usize>,
}

impl Object {
    /// Row and column (0, 1, 2: top/left, middle, bottom/right) of the 3 × 3 grid the centre
    /// falls in, when it lies at least 6 px from the cell's borders (else not clearly in one).
    pub fn cell(&self) -> Option<(u8, u8)> {
        let third = SIDE as f32 / 3.0;
        let one = |v: f32| {
            let c = (v / third).floor().clamp(0.0, 2.0);
            let (lo, hi) = (c * third, (c + 1.0) * third);
            (v - lo >= 6.0 || c == 0.0) && (hi - v >= 6.0 || c == 2.0)
        };
        (one(self.x) && one(self.y))
            .then(|| ((self.y / third).floor().clamp(0.0, 2.0) as u8, (self.x / third).floor().clamp(0.0, 2.0) as u8))
    }
}

/// What a caption says of one object: colour and shape always, the rest when mentioned.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Mention {
    pub object: usize,
    pub shape: Option<ShapeKind>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub glyph: Option<char>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub colour: Option<Colour>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub size: Option<Size>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fill: Option<Fill>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub stroke: Option<Stroke>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub texture: Option<Texture>,
    /// Row and column of the 3 × 3 grid.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cell: Option<(u8, u8)>,
}

/// One caption and its meaning; `relations` are (object, relation, object) by object index.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Caption {
    pub text: String,
    pub mentions: Vec<Mention>,
    pub relations: Vec<(usize, Relation, usize)>,
}

/// A scene: its file stem, objects and captions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scene {
    pub file: String,
    pub objects: Vec<Object>,
    /// Whether the scene holds a colour–shape pair the training split never shows.
    pub held_out: bool,
    pub captions: Vec<Caption>,
}

/// The relation `a` bears to `b`, when it is plain to see: left/right/above/below when the
/// centres lie 16 px apart along the dominant axis, inside when so placed, larger/smaller when
/// the sizes differ.
pub fn relations(a: &Object, ai: usize, b: &Object, bi: usize) -> Vec<Relation> {
    let mut out = vec![];
    if a.inside == Some(bi) {
        out.push(Relation::Inside);
    }
    if a.inside.is_none() && b.inside.is_none() && a.inside != Some(bi) && b.inside != Some(ai) {
        let (dx, dy) = (b.x - a.x, b.y - a.y);
        if dx.abs() > dy.abs() && dx.abs() > 16.0 {
            out.push(if dx > 0.0 { Relation::Left } else { Relation::Right });
        } else if dy.abs() > dx.abs() && dy.abs() > 16.0 {
            out.push(if dy > 0.0 { Relation::Above } else { Relation::Below });
        }
    }
    if a.size != b.size {
        out.push(if a.size == Size::Large { Relation::Larger } else { Relation::Smaller });
    }
    out
}

/// Reads a split's `scenes.jsonl`.
pub fn read_scenes(path: &Path) -> Result<Vec<Scene>> {
    let text = std::fs::read_to_string(path).map_err(crate::error::io_err(path))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| Error::Data {
                path: path.into(),
                msg: format!(
                    "line {}: not a scene record ({e}); remake the set with `gantry data make shapes-captions`",
                    i + 1
                ),
            })
        })
        .collect()
}
