//! Ad-hoc SQL (`POST /v1/query/adhoc`): read-only SQL from the Query Builder, confined to the caller's org and
//! environment by rewriting the parsed query, not by matching strings.
//!
//! The SQL is parsed with the engine's dialect (`sqlparser`); exactly one SELECT/WITH query is
//! accepted. Every table reference must name a dataset (or a CTE in scope) and is replaced by a
//! derived table `(SELECT * FROM <dataset> WHERE org_id = X AND env_id = Y) AS <name>`; table
//! functions, qualified names (`system.*`, `information_schema.*`), SETTINGS, FORMAT, INTO,
//! nested writes and file/network/dictionary functions are refused. What runs is the
//! re-serialized, rewritten AST, never the caller's text, so comments and tokenizer tricks
//! cannot smuggle anything past the checks. The engine then runs it read-only with a timeout and
//! a row limit.

use std::{ops::ControlFlow, time::Instant};

use serde::{Deserialize, Serialize};
use sqlparser::{
    ast::{
        Expr, Function, Ident, ObjectName, ObjectNamePart, Query, SetExpr, Statement, TableAlias,
        TableFactor, Value, VisitMut, VisitorMut,
    },
    dialect::{ClickHouseDialect, Dialect, DuckDbDialect},
    parser::Parser,
};

mod functions;
mod guard;

pub use functions::function_allowed;
pub use guard::{AdhocGuard, AdhocPermit, Catalog, QUEUE_WAIT};

use crate::{
    error::{AppError, Result},
    events::{AdhocLimits, EventStore, SqlDialect, StoreScope},
};

/// Longest SQL accepted.
pub const MAX_SQL_CHARS: usize = 100_000;
/// Most rows an answer carries.
pub const MAX_ROWS: usize = 10_000;
/// Wall-clock limit of one query.
pub const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Most bytes of JSON an answer carries; rows past it are cut and `truncated` is set.
pub const MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;
/// Most queries and SELECTs (subqueries, CTEs, set operations) in one statement.
pub const MAX_QUERIES: usize = 64;
/// Deepest nesting the parser follows.
const PARSER_RECURSION_LIMIT: usize = 64;
/// The datasets every backend exposes to ad-hoc SQL (rollups only where they exist).
pub const DATASETS: &[&str] = &["events", "events_hourly", "events_daily"];

/// The request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdhocRequest {
    /// One SELECT or WITH query.
    pub sql: String,
}

/// One result column.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct AdhocColumn {
    /// Name.
    pub name: String,
    /// The engine's type name.
    #[serde(rename = "type")]
    pub ty: String,
}

/// Execution facts.
#[derive(Debug, Serialize, Deserialize)]
pub struct AdhocStats {
    /// Milliseconds from request to answer.
    pub wall_ms: u64,
    /// Rows in `rows`.
    pub rows_returned: usize,
    /// Whether rows past the limit were cut.
    pub truncated: bool,
}

/// The response body.
#[derive(Debug, Serialize, Deserialize)]
pub struct AdhocResponse {
    /// Columns, in order.
    pub columns: Vec<AdhocColumn>,
    /// Rows of JSON values, one per column.
    pub rows: Vec<Vec<serde_json::Value>>,
    /// Execution facts.
    pub stats: AdhocStats,
}

/// Runs `sql` for the org and environment of `scope`: rewritten so it can read only their rows,
/// admitted by `guard` (429 when the queue is full), bounded in rows, bytes and time.
pub async fn run(
    events: &dyn EventStore,
    guard: &AdhocGuard,
    scope: StoreScope,
    sql: &str,
) -> Result<AdhocResponse> {
    let started = Instant::now();
    let sql = restrict(sql, events.sql_dialect(), scope, guard.catalog())?;
    let _permit = guard.admit(scope.org_id).await?;
    let limits = AdhocLimits { max_rows: MAX_ROWS, max_bytes: MAX_RESPONSE_BYTES, timeout: TIMEOUT };
    let result = events.adhoc(scope, sql, limits).await?;
    let rows_returned = result.rows.len();
    Ok(AdhocResponse {
        columns: result.columns.into_iter().map(|(name, ty)| AdhocColumn { name, ty }).collect(),
        rows: result.rows,
        stats: AdhocStats {
            wall_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            rows_returned,
            truncated: result.truncated,
        },
    })
}

fn refuse(msg: impl std::fmt::Display) -> AppError {
    AppError::invalid(format!("sql: {msg}"))
}

/// Checks `sql` and rewrites it so that it reads only `scope`'s rows; returns the SQL to run.
/// `catalog` holds the engine's real relation names, which no CTE or alias may take.
pub fn restrict(sql: &str, dialect: SqlDialect, scope: StoreScope, catalog: &Catalog) -> Result<String> {
    if sql.chars().count() > MAX_SQL_CHARS {
        return Err(refuse(format!("at most {MAX_SQL_CHARS} characters")));
    }
    if sql.contains('\0') {
        return Err(refuse("NUL characters are not allowed"));
    }
    let parser_dialect: Box<dyn Dialect> = match dialect {
        SqlDialect::ClickHouse => Box::new(ClickHouseDialect {}),
        SqlDialect::DuckDb => Box::new(DuckDbDialect {}),
    };
    let mut statements = Parser::new(parser_dialect.as_ref())
        .with_recursion_limit(PARSER_RECURSION_LIMIT)
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements())
        .map_err(|e| refuse(format!("could not parse as a single SELECT: {e}")))?;
    if statements.len() != 1 {
        return Err(refuse(format!("exactly one statement is allowed (got {})", statements.len())));
    }
    let Some(mut statement) = statements.pop() else {
        return Err(refuse("empty query"));
    };
    if !matches!(statement, Statement::Query(_)) {
        return Err(refuse("only SELECT and WITH queries are allowed"));
    }
    let mut rewriter =
        Rewriter { dialect, scope, catalog, scopes: Vec::new(), top: true, queries: 0, parser_dialect };
    if let ControlFlow::Break(e) = statement.visit(&mut rewriter) {
        return Err(e);
    }
    let out = statement.to_string();
    // ClickHouse reads backslash escapes in strings and identifiers, sqlparser's printer does not
    // write them: refuse any backslash rather than risk the two reading the text differently.
    if dialect == SqlDialect::ClickHouse && out.contains('\\') {
        return Err(refuse("backslashes are not allowed in ClickHouse SQL"));
    }
    Ok(out)
}

struct Rewriter<'a> {
    dialect: SqlDialect,
    scope: StoreScope,
    catalog: &'a Catalog,
    /// CTE names visible at this point (parsed identifiers), one frame per enclosing query.
    scopes: Vec<Vec<String>>,
    top: bool,
    /// SELECTs seen so far.
    queries: usize,
    parser_dialect: Box<dyn Dialect>,
}

/// The single identifier of a one-part name; `None` for qualified names and function parts.
fn single_ident(name: &ObjectName) -> Option<&Ident> {
    match name.0.as_slice() {
        [ObjectNamePart::Identifier(ident)] => Some(ident),
        _ => None,
    }
}

impl Rewriter<'_> {
    fn same_name(&self, a: &str, b: &str) -> bool {
        match self.dialect {
            SqlDialect::DuckDb => a.eq_ignore_ascii_case(b),
            SqlDialect::ClickHouse => a == b,
        }
    }

    fn cte_in_scope(&self, name: &str) -> bool {
        self.scopes.iter().flatten().any(|c| self.same_name(c, name))
    }

    fn dataset(&self, name: &str) -> Option<&'static str> {
        DATASETS.iter().copied().find(|d| self.same_name(d, name))
    }

    /// Whether `name` is (without case) a dataset or any relation the engine holds.
    fn is_relation(&self, name: &str) -> bool {
        DATASETS.iter().any(|d| d.eq_ignore_ascii_case(name)) || self.catalog.contains(name)
    }

    /// A new name (CTE, table or subquery alias) must not be that of a real relation, so it can
    /// neither shadow one nor be resolved to one by the engine. `own` is the dataset a table
    /// alias stands for: `FROM events AS events` is allowed.
    fn check_new_name(
        &self,
        what: &str,
        name: &Ident,
        own: Option<&str>,
    ) -> std::result::Result<(), AppError> {
        if own.is_some_and(|d| self.same_name(d, &name.value)) {
            return Ok(());
        }
        if self.is_relation(&name.value) {
            return Err(refuse(format!(
                "{what} {:?} is the name of a table of the database; choose another name",
                name.value
            )));
        }
        Ok(())
    }

    /// `(SELECT * FROM <dataset> WHERE org_id = X AND env_id = Y)`, parsed from our own text.
    fn scoped_subquery(&self, dataset: &str) -> std::result::Result<Box<Query>, AppError> {
        let sql = format!(
            "SELECT * FROM {dataset} WHERE org_id = {} AND env_id = {}",
            self.scope.org_id, self.scope.env_id
        );
        let mut parsed = Parser::parse_sql(self.parser_dialect.as_ref(), &sql)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("scoping subquery: {e}")))?;
        match parsed.pop() {
            Some(Statement::Query(q)) => Ok(q),
            _ => Err(AppError::Internal(anyhow::anyhow!("scoping subquery did not parse as a query"))),
        }
    }

    /// Functions by allowlist (none on it takes a table or identifier as an argument).
    fn check_function(&self, f: &Function) -> std::result::Result<(), AppError> {
        let Some(ident) = single_ident(&f.name) else {
            return Err(refuse(format!("qualified function names are not allowed ({})", f.name)));
        };
        if !function_allowed(self.dialect, &ident.value) {
            return Err(refuse(format!(
                "function {} is not allowed in ad-hoc SQL (docs/api.md lists what is)",
                ident.value
            )));
        }
        // No allowlisted function reads a table: an identifier argument is a column (the
        // rollups' `events` column shares a table's name), so arguments need no check here.
        Ok(())
    }
}

/// Refuses anything in a query's own clauses that is not a plain read.
fn check_query_clauses(q: &Query) -> std::result::Result<(), AppError> {
    if q.settings.is_some() {
        return Err(refuse("SETTINGS is not allowed"));
    }
    if q.format_clause.is_some() {
        return Err(refuse("FORMAT is not allowed"));
    }
    if !q.locks.is_empty() || q.for_clause.is_some() {
        return Err(refuse("FOR UPDATE/SHARE/XML/JSON is not allowed"));
    }
    if !q.pipe_operators.is_empty() {
        return Err(refuse("pipe syntax is not allowed"));
    }
    check_set_expr(&q.body)
}

/// The SELECTs of one query body (nested queries are counted when they are visited).
fn selects(body: &SetExpr) -> usize {
    match body {
        SetExpr::Select(_) => 1,
        SetExpr::SetOperation { left, right, .. } => selects(left) + selects(right),
        _ => 0,
    }
}

fn check_set_expr(body: &SetExpr) -> std::result::Result<(), AppError> {
    match body {
        SetExpr::Select(select) => {
            if select.into.is_some() {
                return Err(refuse("SELECT INTO is not allowed"));
            }
            Ok(())
        }
        SetExpr::Query(_) | SetExpr::Values(_) => Ok(()),
        SetExpr::SetOperation { left, right, .. } => {
            check_set_expr(left)?;
            check_set_expr(right)
        }
        SetExpr::Insert(_) | SetExpr::Update(_) | SetExpr::Delete(_) => Err(refuse("writes are not allowed")),
        SetExpr::Table(_) => Err(refuse("TABLE statements are not allowed; use SELECT * FROM")),
    }
}

impl VisitorMut for Rewriter<'_> {
    type Break = AppError;

    fn pre_visit_statement(&mut self, statement: &mut Statement) -> ControlFlow<AppError> {
        // Only the outermost statement may exist, and it is a query; anything nested is a write.
        if !std::mem::replace(&mut self.top, false) || !matches!(statement, Statement::Query(_)) {
            return ControlFlow::Break(refuse("only SELECT and WITH queries are allowed"));
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_query(&mut self, q: &mut Query) -> ControlFlow<AppError> {
        self.queries += 1 + selects(&q.body);
        if self.queries > MAX_QUERIES {
            return ControlFlow::Break(refuse(format!("at most {MAX_QUERIES} SELECTs in one query")));
        }
        if let Err(e) = check_query_clauses(q) {
            return ControlFlow::Break(e);
        }
        let mut frame = Vec::new();
        if let Some(with) = &q.with {
            if with.recursive {
                return ControlFlow::Break(refuse("WITH RECURSIVE is not allowed"));
            }
            let names: Vec<String> = with.cte_tables.iter().map(|c| c.alias.name.value.clone()).collect();
            for (i, cte) in with.cte_tables.iter().enumerate() {
                let name = &cte.alias.name;
                if let Err(e) = self.check_new_name("a CTE", name, None) {
                    return ControlFlow::Break(e);
                }
                if self.cte_in_scope(&name.value) || names[..i].iter().any(|n| self.same_name(n, &name.value))
                {
                    return ControlFlow::Break(refuse(format!("CTE {:?} is defined twice", name.value)));
                }
                if cte.from.is_some() {
                    return ControlFlow::Break(refuse("CTE ... FROM is not allowed"));
                }
                // A CTE body may use only earlier CTEs: a reference to itself or a later one
                // would otherwise fall through to whatever else has that name. Compared as
                // parsed identifiers: `"x"`, `` `x` `` and `x` are all the name x.
                let later = &names[i..];
                let mut bad = None;
                let _ = sqlparser::ast::visit_relations(&cte.query, |r| {
                    if let Some(ident) = single_ident(r)
                        && later.iter().any(|l| self.same_name(l, &ident.value))
                    {
                        bad = Some(ident.value.clone());
                        return ControlFlow::Break(());
                    }
                    ControlFlow::Continue(())
                });
                if let Some(bad) = bad {
                    return ControlFlow::Break(refuse(format!(
                        "CTE {:?} refers to {bad:?}, which is not defined before it",
                        name.value
                    )));
                }
            }
            frame = names;
        }
        self.scopes.push(frame);
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _q: &mut Query) -> ControlFlow<AppError> {
        self.scopes.pop();
        ControlFlow::Continue(())
    }

    fn post_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<AppError> {
        let replacement = match factor {
            TableFactor::Derived { alias, .. } | TableFactor::NestedJoin { alias, .. } => {
                if let Some(alias) = alias
                    && let Err(e) = self.check_new_name("the alias", &alias.name, None)
                {
                    return ControlFlow::Break(e);
                }
                return ControlFlow::Continue(());
            }
            TableFactor::Table {
                name,
                alias,
                args,
                with_hints,
                version,
                with_ordinality,
                partitions,
                json_path,
                sample,
                index_hints,
            } => {
                if args.is_some() {
                    return ControlFlow::Break(refuse(format!("table functions are not allowed ({name})")));
                }
                if !with_hints.is_empty()
                    || version.is_some()
                    || *with_ordinality
                    || !partitions.is_empty()
                    || json_path.is_some()
                    || sample.is_some()
                    || !index_hints.is_empty()
                {
                    return ControlFlow::Break(refuse(format!("table modifiers are not allowed ({name})")));
                }
                let [ObjectNamePart::Identifier(ident)] = name.0.as_slice() else {
                    return ControlFlow::Break(refuse(format!(
                        "only the datasets {} may be read; qualified names like {name} are not allowed",
                        DATASETS.join(", ")
                    )));
                };
                let own = self.dataset(&ident.value).filter(|_| !self.cte_in_scope(&ident.value));
                if let Some(alias) = alias.as_ref()
                    && let Err(e) = self.check_new_name("the alias", &alias.name, own)
                {
                    return ControlFlow::Break(e);
                }
                if self.cte_in_scope(&ident.value) {
                    return ControlFlow::Continue(());
                }
                let Some(dataset) = own else {
                    return ControlFlow::Break(refuse(format!(
                        "unknown table {:?}: only the datasets {} may be read",
                        ident.value,
                        DATASETS.join(", ")
                    )));
                };
                let subquery = match self.scoped_subquery(dataset) {
                    Ok(q) => q,
                    Err(e) => return ControlFlow::Break(e),
                };
                let alias = alias
                    .take()
                    .unwrap_or_else(|| TableAlias { name: Ident::new(dataset), columns: Vec::new() });
                TableFactor::Derived { lateral: false, subquery, alias: Some(alias) }
            }
            _ => {
                return ControlFlow::Break(refuse(
                    "table functions and table-valued expressions are not allowed",
                ));
            }
        };
        *factor = replacement;
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<AppError> {
        match expr {
            Expr::Function(f) => {
                if let Err(e) = self.check_function(f) {
                    return ControlFlow::Break(e);
                }
            }
            // ClickHouse reads `x IN (t)` with a bare name as "the set in table t".
            Expr::InList { list, .. }
                if list.iter().any(|e| matches!(e, Expr::Identifier(_) | Expr::CompoundIdentifier(_))) =>
            {
                return ControlFlow::Break(refuse("IN lists may hold values and subqueries, not names"));
            }
            Expr::InUnnest { .. } => return ControlFlow::Break(refuse("IN UNNEST is not allowed")),
            _ => {}
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_value(&mut self, value: &mut Value) -> ControlFlow<AppError> {
        match value {
            Value::Number(..) | Value::SingleQuotedString(_) | Value::Boolean(_) | Value::Null => {
                ControlFlow::Continue(())
            }
            Value::DoubleQuotedString(_) if self.dialect == SqlDialect::ClickHouse => {
                ControlFlow::Continue(())
            }
            other => ControlFlow::Break(refuse(format!("literal {other} is not allowed"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCOPE: StoreScope = StoreScope { org_id: 7, env_id: 9 };

    fn catalog() -> Catalog {
        Catalog::new(
            ["events", "events_raw", "events_hourly", "events_hourly_mv", "schema_migrations"]
                .map(String::from),
        )
    }

    #[test]
    fn rewrites_table_references() {
        for dialect in [SqlDialect::DuckDb, SqlDialect::ClickHouse] {
            let out = restrict(
                "SELECT event_name, count() FROM events GROUP BY event_name",
                dialect,
                SCOPE,
                &catalog(),
            )
            .expect("ok");
            assert!(
                out.contains("(SELECT * FROM events WHERE org_id = 7 AND env_id = 9) AS events"),
                "{out}"
            );
            let out =
                restrict("WITH x AS (SELECT * FROM events e) SELECT * FROM x", dialect, SCOPE, &catalog())
                    .expect("ok");
            assert!(out.contains("WHERE org_id = 7 AND env_id = 9) AS e"), "{out}");
            restrict("SELECT count(*) FROM events AS events", dialect, SCOPE, &catalog()).expect("own name");
        }
    }

    #[test]
    fn refuses_escapes() {
        for sql in [
            "SELECT * FROM system.tables",
            "SELECT * FROM numbers(10)",
            "SELECT 1; SELECT 2",
            "INSERT INTO events SELECT * FROM events",
            "SELECT * FROM events SETTINGS readonly = 0",
            "SELECT * FROM events FORMAT TSV",
            "SELECT * FROM other",
            "WITH events AS (SELECT 1) SELECT * FROM events",
            // The quoted self-reference that read every org's rollups, in every quoting style.
            "WITH events_hourly_mv AS (SELECT * FROM \"events_hourly_mv\") SELECT * FROM events_hourly_mv",
            "WITH events_hourly_mv AS (SELECT * FROM `events_hourly_mv`) SELECT * FROM events_hourly_mv",
            "WITH x AS (SELECT * FROM \"x\") SELECT * FROM x",
            "WITH x AS (SELECT * FROM `x`) SELECT * FROM x",
            // Aliases that shadow or are shadowed by real relations.
            "SELECT * FROM events AS events_raw",
            "SELECT * FROM (SELECT 1) AS Events_Raw",
            "SELECT * FROM events e JOIN events AS schema_migrations ON 1 = 1",
            // IN-family functions and tables as arguments.
            "SELECT globalIn(event_name, events_raw) FROM events",
            "SELECT nullIn(event_name, events_raw) FROM events",
            "SELECT notIn(event_name, events_raw) FROM events",
            "SELECT `in`(event_name, events_raw) FROM events",
        ] {
            assert!(restrict(sql, SqlDialect::ClickHouse, SCOPE, &catalog()).is_err(), "{sql}");
        }
        for sql in ["SELECT 'x'.repeat(1000000000)", "SELECT [1].list_concat(range(1000000000))"] {
            assert!(restrict(sql, SqlDialect::DuckDb, SCOPE, &catalog()).is_err(), "{sql}");
        }
    }

    #[test]
    fn bounds_the_statement() {
        let many = (0..MAX_QUERIES).map(|_| "SELECT 1").collect::<Vec<_>>().join(" UNION ALL ");
        let sql = format!("SELECT * FROM ({many}) AS t");
        assert!(restrict(&sql, SqlDialect::DuckDb, SCOPE, &catalog()).is_err());
        let deep = format!("SELECT {}1{}", "(".repeat(200), ")".repeat(200));
        assert!(restrict(&deep, SqlDialect::DuckDb, SCOPE, &catalog()).is_err());
    }
}
