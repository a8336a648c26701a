//! The durable database as a [`wk_storage::Appendable`] and [`wk_storage::Queryable`]
//! store: collectors, ingesters and the query API hold it through these traits.

use wk_storage::{Appendable, Appender, Querier, Queryable};

use crate::Db;

impl Appendable for Db {
    fn appender(&self) -> Box<dyn Appender + '_> {
        Box::new(Db::appender(self))
    }
}

impl Queryable for Db {
    fn querier(&self) -> Box<dyn Querier + '_> {
        Box::new(Db::querier(self))
    }
}
