//! Layout by frame width, measured in headless Chromium: in a narrow frame (a phone, 360 px) the
//! demo dashboard's widgets stack in one full-width column in reading order, with nothing wider
//! than the frame; in a wide one (1200 px) the 12-column grid puts some side by side. Asserted
//! on the cards' geometry, not on class names.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use emban_e2e::{Emban, HostPages, Page, run_case};
use serde_json::{Value, json};

/// The grid's box, the document's scroll and client widths, the elements reaching past the
/// client width, and each card's box, in reading (DOM) order: `{grid: [left, width], doc:
/// [scrollWidth, clientWidth], wider: ['tag[testid] right=…'…], cards: [[left, top, width,
/// height]…]}`.
const GEOMETRY: &str = "const grid = document.querySelector('[data-testid=grid]'); \
    const g = grid.getBoundingClientRect(); const d = document.documentElement; \
    return { grid: [g.left, g.width], doc: [d.scrollWidth, d.clientWidth], \
      wider: [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > d.clientWidth + 0.5)         .map((e) => `${e.tagName.toLowerCase()}${e.dataset.testid ? '[' + e.dataset.testid + ']' : ''} right=${e.getBoundingClientRect().right}`),       cards: [...grid.children].map((c) => { const r = c.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; }) };";

async fn geometry(emban: &Emban, host: &HostPages, client: &fantoccini::Client, width: u32) -> Value {
    let session = emban.mint_demo(&host.origin).await;
    let url = host.url_with_width(session["embed_url"].as_str().unwrap(), false, width);
    let mut page = Page::open(client, &url).await;
    page.wait_type("ready").await;
    page.wait_painted().await;
    let inner = page.in_frame("return window.innerWidth;", vec![]).await;
    assert_eq!(inner, width, "the frame's viewport width");
    page.in_frame(GEOMETRY, vec![]).await
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn narrow_frames_stack_widgets_in_one_column() {
    let (emban, host) = tokio::join!(Emban::start(), HostPages::start());
    run_case(emban, |emban, client| async move {
        // 360 px: one column.
        let narrow = geometry(&emban, &host, &client, 360).await;
        let cards = narrow["cards"].as_array().unwrap();
        assert_eq!(cards.len(), 6, "the demo dashboard's six widgets: {narrow}");
        let (grid_left, grid_width) = (f(&narrow["grid"][0]), f(&narrow["grid"][1]));
        assert!(grid_width > 250.0 && grid_width <= 360.0, "{narrow}");
        let mut previous_bottom = f64::MIN;
        for card in cards {
            let (left, top, width, height) = (f(&card[0]), f(&card[1]), f(&card[2]), f(&card[3]));
            assert!((left - grid_left).abs() < 0.5, "a card not at the column's left edge: {narrow}");
            assert!((width - grid_width).abs() < 1.0, "a card not spanning the column: {narrow}");
            assert!(height >= 64.0, "a collapsed card: {narrow}");
            assert!(top >= previous_bottom, "cards overlap or are out of reading order: {narrow}");
            previous_bottom = top + height;
        }
        let client_width = f(&narrow["doc"][1]);
        assert!(
            cards.iter().all(|c| f(&c[0]) + f(&c[2]) <= client_width),
            "a card wider than the frame: {narrow}"
        );
        // (The whole document's width: `narrow_frame_does_not_scroll_sideways`.)

        // 1200 px: the grid, some widgets side by side.
        let wide = geometry(&emban, &host, &client, 1200).await;
        let cards = wide["cards"].as_array().unwrap();
        assert_eq!(cards.len(), 6, "{wide}");
        let grid_width = f(&wide["grid"][1]);
        let side_by_side = cards.iter().enumerate().any(|(i, a)| {
            cards[i + 1..]
                .iter()
                .any(|b| (f(&a[1]) - f(&b[1])).abs() < 0.5 && (f(&a[0]) - f(&b[0])).abs() > 50.0)
        });
        assert!(side_by_side, "no two widgets share a row in a wide frame: {wide}");
        assert!(
            cards.iter().any(|c| f(&c[2]) < grid_width / 2.0),
            "no card narrower than half the grid: {wide}"
        );
        let (scroll_width, client_width) = (f(&wide["doc"][0]), f(&wide["doc"][1]));
        assert!(scroll_width <= client_width, "content wider than the frame: {wide}");
    })
    .await;
}

/// Nothing in a 360 px frame is wider than the frame (no sideways scrolling). It caught the
/// filter bar's add-filter form (an `inline-flex` row that never wrapped) at 353 px in a 345 px
/// client width; the form now wraps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn narrow_frame_does_not_scroll_sideways() {
    let (emban, host) = tokio::join!(Emban::start(), HostPages::start());
    run_case(emban, |emban, client| async move {
        let narrow = geometry(&emban, &host, &client, 360).await;
        let (scroll_width, client_width) = (f(&narrow["doc"][0]), f(&narrow["doc"][1]));
        assert!(scroll_width <= client_width, "content wider than the frame: {narrow}");
        assert_eq!(narrow["wider"], json!([]), "{narrow}");
    })
    .await;
}
