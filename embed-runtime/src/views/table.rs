//! Rows and columns: the `table` widget, and the data-table view every chart offers as its text
//! alternative.

use leptos::prelude::*;

use crate::{data::TableRow, format::ValueFormat, i18n::fill, state::Runtime};

/// A table of rows; a group cell is a button that drills into its value (or asks the host for
/// detail when drill-down is not allowed).
#[component]
pub fn DataTable(
    /// The rows, labelled.
    rows: Vec<TableRow>,
    /// The grouped dimension, if any (column header and drill target).
    dimension: Option<String>,
    /// The metric's column header.
    #[prop(into)]
    value_label: String,
    /// The table's caption.
    #[prop(into)]
    caption: String,
    /// Unit, currency and decimals of the values (`viz` options).
    #[prop(optional)]
    options: ValueFormat,
) -> impl IntoView {
    let rt = expect_context::<Runtime>();
    let format = rt.format();
    let t = rt.t();
    let has_bucket = rows.iter().any(|r| r.bucket.is_some());
    let has_group = rows.iter().any(|r| r.group.is_some());
    let group_header = dimension.clone().unwrap_or_else(|| t.columns[1].into());
    let body = rows
        .into_iter()
        .map(|row| {
            let value = row.value.map_or_else(|| "–".to_owned(), |v| format.value(v, &options));
            let group_cell = row.group.clone().map(|label| {
                let target = dimension.clone().zip(row.drill.clone());
                match target {
                    Some((dimension, value)) => {
                        let aria = fill(t.filter_by, &[&dimension, &label]);
                        view! {
                            <th scope="row">
                                <button
                                    type="button"
                                    class="link"
                                    data-testid="row-drill"
                                    aria-label=aria
                                    on:click=move |_| rt.drill(&dimension, &value)
                                >
                                    {label}
                                </button>
                            </th>
                        }
                        .into_any()
                    }
                    None => view! { <th scope="row">{label}</th> }.into_any(),
                }
            });
            view! {
                <tr data-testid="table-row">
                    {row.bucket.map(|b| view! { <td>{b}</td> })}
                    {group_cell}
                    <td class="num">{value}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table data-testid="data-table">
                <caption class="sr-only">{caption}</caption>
                <thead>
                    <tr>
                        {has_bucket.then(|| view! { <th scope="col">{t.columns[0]}</th> })}
                        {has_group.then(|| view! { <th scope="col">{group_header}</th> })}
                        <th scope="col" class="num">{value_label}</th>
                    </tr>
                </thead>
                <tbody>{body}</tbody>
            </table>
        </div>
    }
}
