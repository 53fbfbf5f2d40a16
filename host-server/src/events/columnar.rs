//! Events as Arrow record batches in the events table's column order: DuckDB appends a batch
//! column by column, several times faster than row-by-row appends.

use std::sync::Arc;

use duckdb::arrow::{
    array::{
        ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, ListBuilder, StringBuilder,
        TimestampMicrosecondBuilder,
    },
    error::ArrowError,
    record_batch::RecordBatch,
};

use super::{MATERIALIZED_NUMERIC_PROPS, MATERIALIZED_STRING_PROPS, NewEvent, StoreScope};

const STRING_COLS: usize = MATERIALIZED_STRING_PROPS.len();
const NUMERIC_COLS: usize = MATERIALIZED_NUMERIC_PROPS.len();

/// Builds one record batch from `(scope, event)` rows; the column order is the events table's.
pub fn record_batch<'a>(
    rows: impl ExactSizeIterator<Item = (StoreScope, &'a NewEvent)>,
) -> Result<RecordBatch, ArrowError> {
    let n = rows.len();
    let mut org = Int64Builder::with_capacity(n);
    let mut env = Int64Builder::with_capacity(n);
    let mut tenant = StringBuilder::with_capacity(n, n * 16);
    let mut name = StringBuilder::with_capacity(n, n * 12);
    let mut ts = TimestampMicrosecondBuilder::with_capacity(n);
    let mut event_id = StringBuilder::with_capacity(n, n * 36);
    let mut client_id = BooleanBuilder::with_capacity(n);
    let mut user = StringBuilder::with_capacity(n, n * 12);
    let mut strings: [StringBuilder; STRING_COLS] =
        std::array::from_fn(|_| StringBuilder::with_capacity(n, n * 8));
    let mut numbers: [Float64Builder; NUMERIC_COLS] =
        std::array::from_fn(|_| Float64Builder::with_capacity(n));
    let mut sp_keys = ListBuilder::new(StringBuilder::new());
    let mut sp_vals = ListBuilder::new(StringBuilder::new());
    let mut np_keys = ListBuilder::new(StringBuilder::new());
    let mut np_vals = ListBuilder::new(Float64Builder::new());

    for (scope, e) in rows {
        org.append_value(scope.org_id);
        env.append_value(scope.env_id);
        tenant.append_value(&e.tenant_id);
        name.append_value(&e.event_name);
        ts.append_value(e.timestamp.timestamp_micros());
        event_id.append_value(&e.event_id);
        client_id.append_value(e.client_event_id);
        user.append_option(e.user_id.as_deref());

        let mut materialized: [Option<&str>; STRING_COLS] = [None; STRING_COLS];
        let mut rest = 0;
        for (k, v) in &e.string_props {
            match MATERIALIZED_STRING_PROPS.iter().position(|m| m == k) {
                Some(i) => materialized[i] = Some(v),
                None => {
                    sp_keys.values().append_value(k);
                    sp_vals.values().append_value(v);
                    rest += 1;
                }
            }
        }
        for (builder, value) in strings.iter_mut().zip(materialized) {
            builder.append_option(value);
        }
        sp_keys.append(rest > 0);
        sp_vals.append(rest > 0);

        let mut materialized: [Option<f64>; NUMERIC_COLS] = [None; NUMERIC_COLS];
        let mut rest = 0;
        for (k, v) in &e.numeric_props {
            match MATERIALIZED_NUMERIC_PROPS.iter().position(|m| m == k) {
                Some(i) => materialized[i] = Some(*v),
                None => {
                    np_keys.values().append_value(k);
                    np_vals.values().append_value(*v);
                    rest += 1;
                }
            }
        }
        for (builder, value) in numbers.iter_mut().zip(materialized) {
            builder.append_option(value);
        }
        np_keys.append(rest > 0);
        np_vals.append(rest > 0);
    }

    let mut columns: Vec<(String, ArrayRef)> = vec![
        ("org_id".into(), Arc::new(org.finish())),
        ("env_id".into(), Arc::new(env.finish())),
        ("tenant_id".into(), Arc::new(tenant.finish())),
        ("event_name".into(), Arc::new(name.finish())),
        ("ts".into(), Arc::new(ts.finish())),
        ("event_id".into(), Arc::new(event_id.finish())),
        ("client_event_id".into(), Arc::new(client_id.finish())),
        ("user_id".into(), Arc::new(user.finish())),
    ];
    for (key, mut builder) in MATERIALIZED_STRING_PROPS.iter().zip(strings) {
        columns.push((format!("s_{key}"), Arc::new(builder.finish())));
    }
    for (key, mut builder) in MATERIALIZED_NUMERIC_PROPS.iter().zip(numbers) {
        columns.push((format!("n_{key}"), Arc::new(builder.finish())));
    }
    columns.push(("sp_keys".into(), Arc::new(sp_keys.finish())));
    columns.push(("sp_vals".into(), Arc::new(sp_vals.finish())));
    columns.push(("np_keys".into(), Arc::new(np_keys.finish())));
    columns.push(("np_vals".into(), Arc::new(np_vals.finish())));
    // Every column nullable, whatever this batch holds: the writer joins the batches of several
    // requests into one append, which needs one schema for all of them.
    RecordBatch::try_from_iter_with_nullable(columns.into_iter().map(|(name, array)| (name, array, true)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(user: Option<&str>, props: bool) -> NewEvent {
        NewEvent {
            tenant_id: "t".into(),
            event_name: "e".into(),
            timestamp: chrono::Utc::now(),
            event_id: "id".into(),
            client_event_id: true,
            user_id: user.map(str::to_owned),
            string_props: if props {
                vec![("model".into(), "m".into()), ("x".into(), "y".into())]
            } else {
                vec![]
            },
            numeric_props: if props { vec![("tokens".into(), 1.0)] } else { vec![] },
        }
    }

    #[test]
    fn batches_with_and_without_nulls_share_one_schema() {
        let scope = StoreScope { org_id: 1, env_id: 1 };
        let (full, bare) = (event(Some("u"), true), event(None, false));
        let a = record_batch([(scope, &full)].into_iter()).expect("batch");
        let b = record_batch([(scope, &bare)].into_iter()).expect("batch");
        assert_eq!(a.schema(), b.schema());
        let joined = duckdb::arrow::compute::concat_batches(&a.schema(), &[a, b]).expect("concat");
        assert_eq!(joined.num_rows(), 2);
    }
}
