//! The head as a [`wk_storage::Appendable`] and [`wk_storage::Queryable`] store, so
//! collectors and the query API can hold it without naming the engine.

use wk_storage::{Appendable, Appender, Querier, Queryable};

use super::Head;

impl Appendable for Head {
    fn appender(&self) -> Box<dyn Appender + '_> {
        Box::new(Head::appender(self))
    }
}

impl Queryable for Head {
    fn querier(&self) -> Box<dyn Querier + '_> {
        Box::new(Head::querier(self))
    }
}
