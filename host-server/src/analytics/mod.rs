//! Analytics: the query API's parameters, windows and answer shapes (`query`), widget
//! evaluation shared by previews and embeds (`widget`), ad-hoc SQL confined to one org (`adhoc`),
//! what that SQL may read (`datasets`), and saved SQL snippets (`saved_queries`). Everything here
//! works over the events store trait.

pub mod adhoc;
pub mod datasets;
pub mod query;
pub mod saved_queries;
pub mod widget;
