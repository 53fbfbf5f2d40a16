//! Report pages drawn on the server (issue 16): the demo dashboard, evaluated over sample events
//! in a real DuckDB file, is drawn by the runtime's own chart code into one SVG page, then turned
//! into a PNG (its size checked from the file) and a PDF that poppler's `pdftotext` reads back:
//! the dashboard's name and every widget's title are there, as text in the bundled font.

use std::time::Instant;

use chrono::Utc;
use contract::{dashboard::WidgetData, embed::EmbedFilters, events::IngestRequest, query::Period};
use emban_host_server::{
    analytics::widget::{evaluate, resolve_filters},
    demo::{
        dashboard::{DEMO_DASHBOARD_NAME, demo_config},
        sample::SampleGenerator,
    },
    events::{EventStore, StoreScope, duckdb::DuckStore},
    ingest::{IngestBounds, validate},
    render::{self, PAGE_WIDTH, ReportPage, ReportWidget},
};

use crate::common::TempDir;

const SCOPE: StoreScope = StoreScope { org_id: 1, env_id: 1 };

/// (width, height) from a PNG's IHDR chunk.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG signature");
    assert_eq!(&png[12..16], b"IHDR");
    let word = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().expect("4 bytes"));
    (word(16), word(20))
}

#[tokio::test]
async fn the_demo_dashboard_renders_to_png_and_to_a_pdf_whose_text_names_every_widget() {
    let dir = TempDir::new();
    let store = DuckStore::open(&dir.path().join("events.duckdb"), "512MB").expect("open");
    let tenants = vec![("acme".to_owned(), 1.0)];
    let mut generator = SampleGenerator::new(7, &tenants, 30, Utc::now());
    let events = (0..5_000).map(|_| generator.next_event()).collect();
    let rows = validate(IngestRequest { events }, Utc::now(), IngestBounds::default()).expect("valid");
    store.insert(SCOPE, rows).await.expect("insert");

    let config = demo_config().expect("demo dashboard");
    let filters = resolve_filters(&EmbedFilters::default(), Period::D30).expect("filters");
    let mut answers: Vec<Result<WidgetData, String>> = Vec::new();
    for widget in &config.widgets {
        let answer = evaluate(&store, SCOPE, "acme", widget, &filters, Instant::now()).await;
        answers.push(answer.map_err(|e| e.to_string()));
    }
    assert!(answers.iter().all(Result::is_ok), "every demo widget evaluates");
    let page = ReportPage {
        title: DEMO_DASHBOARD_NAME,
        subtitle: "Tenant acme · last 30 days",
        locale: "en-US",
        now: Utc::now().timestamp(),
        widgets: config
            .widgets
            .iter()
            .zip(&answers)
            .map(|(widget, data)| ReportWidget { widget, data: data.as_ref().map_err(Clone::clone) })
            .collect(),
    };
    let svg = render::svg(&page);
    assert!(svg.contains("<svg x=\""), "charts are placed in their cards");

    let png = render::png(&svg, 2.0).expect("png");
    // To look at the page: EMBAN_RENDER_OUT=/tmp/report cargo test --test api render
    if let Some(out) = std::env::var_os("EMBAN_RENDER_OUT") {
        let out = std::path::PathBuf::from(out);
        std::fs::write(out.with_extension("png"), &png).expect("write png");
        std::fs::write(out.with_extension("svg"), &svg).expect("write svg");
    }
    let (width, height) = png_size(&png);
    assert_eq!(width, PAGE_WIDTH * 2, "drawn at twice the CSS width");
    assert!(height > 600 && height < 6_000, "a page as tall as its grid: {height}");
    assert!(png.len() > 20_000, "a page with charts and text, not a blank: {} bytes", png.len());

    let pdf = render::pdf(&svg).expect("pdf");
    assert!(pdf.starts_with(b"%PDF-"));
    let path = dir.path().join("report.pdf");
    std::fs::write(&path, &pdf).expect("write pdf");
    let out = std::process::Command::new("pdftotext")
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils)");
    assert!(out.status.success(), "pdftotext parses the PDF: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(DEMO_DASHBOARD_NAME), "{text}");
    for widget in &config.widgets {
        assert!(text.contains(&widget.title), "the PDF names {:?}: {text}", widget.title);
    }
    store.close().await;
}

#[test]
fn a_widget_without_data_says_why_instead_of_failing_the_page() {
    let config = demo_config().expect("demo dashboard");
    let page = ReportPage {
        title: "T <&>",
        subtitle: "s",
        locale: "en-US",
        now: 0,
        widgets: config
            .widgets
            .iter()
            .map(|widget| ReportWidget { widget, data: Err("the query timed out".to_owned()) })
            .collect(),
    };
    let svg = render::svg(&page);
    assert!(svg.contains("Not available: the query timed out"));
    assert!(svg.contains("T &lt;&amp;&gt;"), "titles are escaped");
    assert!(render::pdf(&svg).expect("pdf").starts_with(b"%PDF-"));
}
