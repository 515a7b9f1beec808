//! The cluster drawing's geometry, free of any browser type: box sizes from the type size,
//! server positions that fill the space the page measured, where a message sits on its lane,
//! which messages share a spot, and where labels go so that none is printed over another.
//!
//! The drawing's user unit is one CSS pixel (the page sizes the SVG's `viewBox` to the box it
//! measured), so a font size here is the size a student sees on the projector.

/// The type size of the drawing, in CSS px: at least this at 1280×720, readable on a projector.
pub const FONT_PX: f64 = 14.0;
/// With "Large type".
pub const FONT_LARGE_PX: f64 = 18.0;
/// Lines of text in a server box: title, epochs, applied, logged, vote or phase. With more than
/// [`FULL_BOXES_MAX`] servers the last line goes (the vote takes the epochs' line while
/// LOOKING), so nine boxes fit a 1280×720 screen.
pub fn box_lines(n: usize) -> usize {
    if n > FULL_BOXES_MAX {
        4
    } else {
        5
    }
}
pub const FULL_BOXES_MAX: usize = 5;
/// When even the smallest type does not fit, boxes first lose lines (down to title, applied and
/// logged; then title and logged) and narrow to this many ems, before the drawing grows past its
/// box: nine servers in Large type on a 1280×720 projector keep their type size and fit.
const CROWDED_BOX_EM: f64 = 10.5;
/// And their text sits closer to their edges.
const CROWDED_PAD_EM: f64 = 0.35;
/// At most this many labels are placed; past it, dots keep their type and colour only.
pub const MAX_LABELS: usize = 150;
/// The most a drawing grows to fit its boxes (then they may touch).
const MAX_GROW_STEPS: usize = 40;

pub type Point = (f64, f64);

/// An axis-aligned rectangle (x, y, width, height).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

impl Rect {
    pub fn overlaps(&self, o: &Rect) -> bool {
        self.x < o.x + o.w && o.x < self.x + self.w && self.y < o.y + o.h && o.y < self.y + self.h
    }
    fn inside(&self, width: f64, height: f64) -> bool {
        self.x >= 0.0 && self.y >= 0.0 && self.x + self.w <= width && self.y + self.h <= height
    }
}

/// Sizes derived from the type size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Metrics {
    pub font_px: f64,
    pub line_px: f64,
    pub pad_px: f64,
    pub box_w: f64,
    pub box_h: f64,
    pub dot_r: f64,
    /// How far a direction's lane sits beside the line between two servers.
    pub lane_px: f64,
    /// Lines of text in a server box, the title's included.
    pub lines: usize,
}

impl Metrics {
    pub fn new(font_px: f64, lines: usize) -> Metrics {
        // "S9·obs OBSERVING" and "epoch 12 · acc 12" fit in 12 em.
        Metrics::sized(font_px, lines, 12.0, 0.5)
    }

    /// Boxes `box_em` wide (the widest line they hold), with `pad_em` inside their edges.
    fn sized(font_px: f64, lines: usize, box_em: f64, pad_em: f64) -> Metrics {
        let line_px = (font_px * 1.25).round();
        let pad_px = (font_px * pad_em).round();
        Metrics {
            font_px,
            line_px,
            pad_px,
            box_w: (font_px * box_em).round(),
            box_h: lines as f64 * line_px + 2.0 * pad_px,
            dot_r: (font_px * 0.5).round(),
            lane_px: (font_px * 0.8).round(),
            lines,
        }
    }

    /// The baseline of text line `i` (0 = title) inside a box.
    pub fn baseline(&self, i: usize) -> f64 {
        self.pad_px + self.font_px * 0.95 + i as f64 * self.line_px
    }

    /// A conservative width of `text` set in this type (wider than the browser's, never narrower,
    /// so that labels placed apart stay apart).
    pub fn text_w(&self, text: &str) -> f64 {
        let em: f64 = text
            .chars()
            .map(|c| match c {
                'i' | 'l' | '.' | ',' | ':' | '·' | ' ' | '|' | '!' | '\'' => 0.35,
                'M' | 'W' | 'm' | 'w' | '×' | '→' | '✕' => 0.95,
                c if c.is_ascii_uppercase() || c.is_ascii_digit() => 0.72,
                c if c.is_ascii() => 0.6,
                _ => 1.05,
            })
            .sum();
        em * self.font_px + 8.0
    }

    pub fn label_h(&self) -> f64 {
        self.line_px + 2.0
    }
}

/// Where the servers go in a drawing of `width` × `height` px.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    pub width: f64,
    pub height: f64,
    pub m: Metrics,
    pub centres: Vec<Point>,
}

fn ellipse(n: usize, width: f64, height: f64, m: &Metrics) -> Vec<Point> {
    let margin = m.font_px * 0.5;
    let (cx, cy) = (width / 2.0, height / 2.0);
    let rx = (width / 2.0 - m.box_w / 2.0 - margin).max(0.0);
    let ry = (height / 2.0 - m.box_h / 2.0 - margin).max(0.0);
    (0..n)
        .map(|i| {
            if n == 1 {
                return (cx, cy);
            }
            let a = -std::f64::consts::FRAC_PI_2 + std::f64::consts::TAU * i as f64 / n as f64;
            (cx + rx * a.cos(), cy + ry * a.sin())
        })
        .collect()
}

fn boxes_overlap(centres: &[Point], m: &Metrics) -> bool {
    let gap = m.font_px * 0.5;
    centres.iter().enumerate().any(|(i, a)| {
        centres[i + 1..]
            .iter()
            .any(|b| (a.0 - b.0).abs() < m.box_w + gap && (a.1 - b.1).abs() < m.box_h + gap)
    })
}

impl Layout {
    /// Servers on an ellipse filling `avail_w` × `avail_h`, in the largest type from
    /// `max_font_px` down to `min_font_px` whose boxes do not touch; if even the smallest
    /// touch, the boxes hold fewer lines (never a smaller type), and if they still touch, the
    /// drawing grows taller (the page scrolls).
    pub fn new(n: usize, avail_w: f64, avail_h: f64, min_font_px: f64, max_font_px: f64) -> Layout {
        let mut font = max_font_px.max(min_font_px);
        let full = box_lines(n);
        loop {
            let l = Layout::fixed(n, avail_w, avail_h, Metrics::new(font, full), false);
            if !boxes_overlap(&l.centres, &l.m) {
                return l;
            }
            if font <= min_font_px {
                break;
            }
            font = (font - 1.0).max(min_font_px);
        }
        for lines in [3, 2].into_iter().filter(|&k| k < full) {
            let m = Metrics::sized(font, lines, CROWDED_BOX_EM, CROWDED_PAD_EM);
            let l = Layout::fixed(n, avail_w, avail_h, m, false);
            if !boxes_overlap(&l.centres, &l.m) {
                return l;
            }
        }
        Layout::fixed(n, avail_w, avail_h, Metrics::new(font, full), true)
    }

    /// The layout with boxes of `m` (`grow`: make room for boxes that would touch).
    fn fixed(n: usize, avail_w: f64, avail_h: f64, m: Metrics, grow: bool) -> Layout {
        let mut width = avail_w.max(m.box_w * 3.0 + 4.0 * m.font_px);
        let mut height = avail_h.max(m.box_h * 2.0 + 4.0 * m.font_px);
        let mut centres = ellipse(n, width, height, &m);
        for _ in 0..MAX_GROW_STEPS {
            if !grow || !boxes_overlap(&centres, &m) {
                break;
            }
            // Taller first; wider too, for the two boxes side by side at the bottom.
            height *= 1.08;
            width *= 1.03;
            centres = ellipse(n, width, height, &m);
        }
        Layout {
            width: width.round(),
            height: height.round(),
            m,
            centres,
        }
    }

    pub fn box_rect(&self, i: usize) -> Rect {
        let (x, y) = self.centres[i];
        Rect {
            x: x - self.m.box_w / 2.0,
            y: y - self.m.box_h / 2.0,
            w: self.m.box_w,
            h: self.m.box_h,
        }
    }

    /// The lane of messages from server `a` to server `b`: from `a`'s edge to `b`'s edge (a
    /// dot's radius outside each box), beside the centre line on the right-hand side of the
    /// travel direction, so the two directions never share a lane.
    pub fn lane(&self, a: usize, b: usize) -> (Point, Point) {
        let (ca, cb) = (self.centres[a], self.centres[b]);
        let d = (cb.0 - ca.0, cb.1 - ca.1);
        let len = d.0.hypot(d.1).max(1.0);
        let o = (-d.1 / len * self.m.lane_px, d.0 / len * self.m.lane_px);
        let (hw, hh) = (
            self.m.box_w / 2.0 + self.m.dot_r,
            self.m.box_h / 2.0 + self.m.dot_r,
        );
        let s = exit(o, d, hw, hh);
        let e = exit(o, (-d.0, -d.1), hw, hh);
        (
            (ca.0 + o.0 + d.0 * s, ca.1 + o.1 + d.1 * s),
            (cb.0 + o.0 - d.0 * e, cb.1 + o.1 - d.1 * e),
        )
    }

    /// The point `frac` of the way along the lane from `a` to `b`.
    pub fn on_lane(&self, a: usize, b: usize, frac: f64) -> Point {
        let (s, e) = self.lane(a, b);
        let f = frac.clamp(0.0, 1.0);
        (s.0 + (e.0 - s.0) * f, s.1 + (e.1 - s.1) * f)
    }
}

/// The smallest `t >= 0` at which `o + d·t` leaves the rectangle `[-hw, hw] × [-hh, hh]`.
fn exit(o: Point, d: Point, hw: f64, hh: f64) -> f64 {
    let axis = |o: f64, d: f64, h: f64| {
        if d > 1e-9 {
            (h - o) / d
        } else if d < -1e-9 {
            (-h - o) / d
        } else {
            f64::INFINITY
        }
    };
    axis(o.0, d.0, hw).min(axis(o.1, d.1, hh)).clamp(0.0, 0.5)
}

/// Messages drawn as one dot: on the same lane and closer than a dot's diameter.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    pub from: usize,
    pub to: usize,
    pub at: Point,
    /// Indices into the input, in input order.
    pub members: Vec<usize>,
}

/// Groups `(from, to, frac)` positions (indices of servers in the layout).
pub fn group(layout: &Layout, items: &[(usize, usize, f64)]) -> Vec<Group> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|&i, &j| {
        let (a, b) = (items[i], items[j]);
        (a.0, a.1)
            .cmp(&(b.0, b.1))
            .then(a.2.partial_cmp(&b.2).unwrap_or(std::cmp::Ordering::Equal))
    });
    let near = 2.0 * layout.m.dot_r;
    let mut groups: Vec<Group> = Vec::new();
    for i in order {
        let (from, to, frac) = items[i];
        let at = layout.on_lane(from, to, frac);
        match groups.last_mut() {
            Some(g)
                if g.from == from && g.to == to && (g.at.0 - at.0).hypot(g.at.1 - at.1) < near =>
            {
                g.members.push(i)
            }
            _ => groups.push(Group {
                from,
                to,
                at,
                members: vec![i],
            }),
        }
    }
    for g in &mut groups {
        g.members.sort_unstable();
    }
    groups
}

/// The text of a group's label: `PROPOSAL`, `PING ×12`, `TRUNC+NEWLEADER`, `7 msgs`.
pub fn group_label(kinds: &[&str]) -> String {
    let mut distinct: Vec<&str> = Vec::new();
    for k in kinds {
        if !distinct.contains(k) {
            distinct.push(k);
        }
    }
    match (distinct.len(), kinds.len()) {
        (1, 1) => distinct[0].to_string(),
        (1, n) => format!("{} ×{n}", distinct[0]),
        (2, 2) => format!("{}+{}", distinct[0], distinct[1]),
        (_, n) => format!("{n} msgs"),
    }
}

/// Places labels so that none overlaps another, a server box, a dot, or leaves the drawing.
pub struct Placer {
    width: f64,
    height: f64,
    taken: Vec<Rect>,
}

impl Placer {
    /// `obstacles`: what labels must not cover (server boxes, dots).
    pub fn new(width: f64, height: f64, obstacles: Vec<Rect>) -> Placer {
        Placer {
            width,
            height,
            taken: obstacles,
        }
    }

    pub fn block(&mut self, r: Rect) {
        self.taken.push(r);
    }

    /// The first free spot for a `w` × `h` label near a dot of radius `r` at `at` (right, left,
    /// above, below, then further out), or `None` when every spot is taken.
    pub fn place(&mut self, at: Point, r: f64, w: f64, h: f64) -> Option<Rect> {
        let gap = 3.0;
        let (x, y) = at;
        let right = x + r + gap;
        let left = x - r - gap - w;
        let mid = y - h / 2.0;
        let mut spots = vec![
            (right, mid),
            (left, mid),
            (x - w / 2.0, y - r - gap - h),
            (x - w / 2.0, y + r + gap),
        ];
        for k in 1..=3 {
            let d = k as f64 * (h + 1.0);
            spots.extend([
                (right, mid - d),
                (right, mid + d),
                (left, mid - d),
                (left, mid + d),
            ]);
        }
        let spot = spots
            .into_iter()
            .map(|(x, y)| Rect { x, y, w, h })
            .find(|c| {
                c.inside(self.width, self.height) && !self.taken.iter().any(|t| t.overlaps(c))
            })?;
        self.taken.push(spot);
        Some(spot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxes_never_overlap_at_projector_sizes_and_fill_the_space() {
        for (w, h) in [(900.0, 520.0), (1400.0, 860.0), (600.0, 300.0)] {
            for font in [FONT_PX, FONT_LARGE_PX] {
                for n in 1..=9 {
                    let l = Layout::new(n, w, h, font, font);
                    assert!(
                        !boxes_overlap(&l.centres, &l.m),
                        "{n} servers at {w}x{h}, {font}px"
                    );
                    assert!(l.width >= w && l.height >= h, "fills {w}x{h}");
                    for i in 0..n {
                        assert!(l.box_rect(i).inside(l.width, l.height), "box {i} inside");
                    }
                }
            }
        }
        // A big stage gets bigger type; a crowded one falls back towards the minimum.
        let big = Layout::new(3, 1400.0, 860.0, FONT_PX, 24.0);
        assert_eq!(big.m.font_px, 24.0);
        let crowded = Layout::new(9, 700.0, 420.0, FONT_PX, 24.0);
        // Nine servers fit the diagram's box at 1280x720 (about 915 x 437 px) in 14 px type.
        let nine = Layout::new(9, 915.0, 437.0, FONT_PX, FONT_PX);
        assert_eq!((nine.width, nine.height), (915.0, 437.0), "no scrolling");
        assert!(crowded.m.font_px >= FONT_PX && crowded.m.font_px < 24.0);
        assert!(!boxes_overlap(&crowded.centres, &crowded.m));
        // Crowded: nine boxes in 18 px type in about the box Large type leaves at 1280x720 lose
        // lines rather than type size or room; with room to spare they keep every line.
        let tight = Layout::new(9, 860.0, 390.0, FONT_LARGE_PX, FONT_LARGE_PX);
        assert_eq!(tight.m.font_px, FONT_LARGE_PX);
        assert!(tight.m.lines < box_lines(9), "{} lines", tight.m.lines);
        assert_eq!((tight.width, tight.height), (860.0, 390.0), "no scrolling");
        assert!(!boxes_overlap(&tight.centres, &tight.m));
        let roomy = Layout::new(9, 1500.0, 800.0, FONT_LARGE_PX, FONT_LARGE_PX);
        assert_eq!(roomy.m.lines, box_lines(9));
        // Large type makes the boxes larger, never smaller.
        let (a, b) = (Metrics::new(FONT_PX, 5), Metrics::new(FONT_LARGE_PX, 5));
        assert!(b.box_w > a.box_w && b.box_h > a.box_h);
    }

    #[test]
    fn a_message_leaves_from_the_senders_edge_and_each_direction_has_its_lane() {
        let l = Layout::new(3, 1000.0, 600.0, FONT_PX, FONT_PX);
        let (start, end) = l.lane(0, 1);
        assert!(!l.box_rect(0).overlaps(&Rect {
            x: start.0,
            y: start.1,
            w: 0.1,
            h: 0.1
        }));
        assert!(!l.box_rect(1).overlaps(&Rect {
            x: end.0,
            y: end.1,
            w: 0.1,
            h: 0.1
        }));
        let (a, b) = (l.on_lane(0, 1, 0.5), l.on_lane(1, 0, 0.5));
        let apart = (a.0 - b.0).hypot(a.1 - b.1);
        assert!(
            apart >= 2.0 * l.m.dot_r,
            "the two directions are {apart:.1} px apart"
        );
    }

    #[test]
    fn co_located_messages_group_and_count() {
        let l = Layout::new(3, 1000.0, 600.0, FONT_PX, FONT_PX);
        let items = vec![
            (0, 1, 0.5),
            (0, 1, 0.5),
            (1, 0, 0.5),
            (0, 1, 0.9),
            (0, 1, 0.501),
        ];
        let g = group(&l, &items);
        assert_eq!(g.len(), 3);
        let big = g
            .iter()
            .find(|g| g.members.len() == 3)
            .expect("three at one spot");
        assert_eq!(big.members, vec![0, 1, 4]);
        assert_eq!(group_label(&["PING"; 12]), "PING ×12");
        assert_eq!(group_label(&["TRUNC", "NEWLEADER"]), "TRUNC+NEWLEADER");
        assert_eq!(group_label(&["ACK", "PING", "COMMIT"]), "3 msgs");
        assert_eq!(group_label(&["ACK"]), "ACK");
    }

    #[test]
    fn placed_labels_never_overlap() {
        let l = Layout::new(5, 1000.0, 600.0, FONT_PX, FONT_PX);
        let boxes: Vec<Rect> = (0..5).map(|i| l.box_rect(i)).collect();
        let mut p = Placer::new(l.width, l.height, boxes.clone());
        let mut placed = Vec::new();
        for k in 0..200 {
            let at = l.on_lane(k % 5, (k + 1 + k / 5) % 5, (k % 7) as f64 / 7.0);
            if let Some(r) = p.place(at, l.m.dot_r, l.m.text_w("NOTIFICATION"), l.m.label_h()) {
                placed.push(r);
            }
        }
        assert!(
            placed.len() > 10,
            "some labels found room ({})",
            placed.len()
        );
        for (i, a) in placed.iter().enumerate() {
            assert!(boxes.iter().all(|b| !a.overlaps(b)));
            assert!(placed[i + 1..].iter().all(|b| !a.overlaps(b)));
        }
    }
}
