//! Dashboards drawn on the server, for scheduled reports: each widget is drawn by the embed
//! runtime's own chart code (`embed_runtime::{charts, data, format}`, compiled natively), laid
//! out on the runtime's grid with its card, title and metric tile, into one SVG page; the page
//! becomes PNG (`resvg`) or PDF (`svg2pdf`) with a bundled font (Noto Sans), so a report looks
//! like the embed and does not depend on the host's fonts.

mod page;

use std::sync::{Arc, OnceLock};

pub use page::{PAGE_WIDTH, ReportPage, ReportWidget, svg};

/// Why a page could not be turned into PNG or PDF.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rendering the report failed: {0}")]
pub struct RenderError(pub String);

/// The family every text of a page is set in (the bundled font).
pub const FONT_FAMILY: &str = "Noto Sans";

/// Parsing options with the bundled fonts, loaded once: Noto Sans regular and bold, the only
/// fonts a page uses (the system's fonts are never read, so every server draws the same pixels).
/// `resvg` and `svg2pdf` share one `usvg` (Cargo.lock), so one parsed tree serves both.
fn options() -> resvg::usvg::Options<'static> {
    static FONTS: OnceLock<Arc<resvg::usvg::fontdb::Database>> = OnceLock::new();
    let fontdb = FONTS
        .get_or_init(|| {
            let mut db = resvg::usvg::fontdb::Database::new();
            db.load_font_data(notosans::REGULAR_TTF.to_vec());
            db.load_font_data(notosans::BOLD_TTF.to_vec());
            db.set_sans_serif_family(FONT_FAMILY);
            db.set_serif_family(FONT_FAMILY);
            db.set_monospace_family(FONT_FAMILY);
            Arc::new(db)
        })
        .clone();
    resvg::usvg::Options { font_family: FONT_FAMILY.to_owned(), fontdb, ..resvg::usvg::Options::default() }
}

fn parse(svg: &str) -> Result<resvg::usvg::Tree, RenderError> {
    resvg::usvg::Tree::from_str(svg, &options()).map_err(|e| RenderError(format!("parsing the page: {e}")))
}

/// The page as a PNG, at `scale` device pixels per CSS pixel (2 for sharp text in mail clients).
pub fn png(svg: &str, scale: f32) -> Result<Vec<u8>, RenderError> {
    use resvg::tiny_skia;
    let tree = parse(svg)?;
    let size = tree.size().to_int_size().scale_by(scale).ok_or_else(|| RenderError("empty page".into()))?;
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height())
        .ok_or_else(|| RenderError(format!("a {}x{} page is too large", size.width(), size.height())))?;
    resvg::render(&tree, tiny_skia::Transform::from_scale(scale, scale), &mut pixmap.as_mut());
    pixmap.encode_png().map_err(|e| RenderError(format!("encoding the PNG: {e}")))
}

/// The page as a one-page PDF, text kept as text (searchable, selectable) in the bundled font.
pub fn pdf(svg: &str) -> Result<Vec<u8>, RenderError> {
    let tree = parse(svg)?;
    svg2pdf::to_pdf(&tree, svg2pdf::ConversionOptions::default(), svg2pdf::PageOptions::default())
        .map_err(|e| RenderError(format!("writing the PDF: {e}")))
}
