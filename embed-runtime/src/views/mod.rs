//! The views, one file each. Every interactive or testable element carries a `data-testid`.

pub mod chart;
pub mod dashboard;
pub mod filter_bar;
pub mod metric;
pub mod states;
pub mod table;
pub mod widget;

/// Grid geometry shared by the stylesheet (`style.css`) and chart sizing: keep them in step.
pub mod grid {
    /// Height of one grid row.
    pub const ROW_PX: f64 = 64.0;
    /// Gap between grid cells.
    pub const GAP_PX: f64 = 12.0;
    /// Page padding.
    pub const PAGE_PAD_PX: f64 = 12.0;
    /// Card padding.
    pub const CARD_PAD_PX: f64 = 12.0;
    /// Card header (title and actions).
    pub const HEADER_PX: f64 = 34.0;
    /// Below this frame width widgets stack in one column.
    pub const NARROW_PX: f64 = 600.0;

    /// The inner (content) width of a card `w` columns wide in a frame `frame` pixels wide.
    pub fn card_content_width(frame: f64, w: u32) -> f64 {
        let w = f64::from(w.clamp(1, 12));
        let card = if frame < NARROW_PX {
            frame - 2.0 * PAGE_PAD_PX
        } else {
            let column = (frame - 2.0 * PAGE_PAD_PX - 11.0 * GAP_PX) / 12.0;
            column * w + (w - 1.0) * GAP_PX
        };
        (card - 2.0 * CARD_PAD_PX - 2.0).max(120.0)
    }

    /// The inner height of a card `h` rows tall, below its header.
    pub fn card_content_height(h: u32) -> f64 {
        let h = f64::from(h.clamp(1, 24));
        (h * ROW_PX + (h - 1.0) * GAP_PX - 2.0 * CARD_PAD_PX - HEADER_PX - 2.0).max(60.0)
    }
}
