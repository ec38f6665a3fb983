//! `hot` and `hint`: the top searches of an app group, and the hints of its search box (personalised for a known
//! user by `near_realtime` hint instances).

use algocenter_domain::{Function, Result};
use algocenter_functions::query_list::QueryListModel;
pub use algocenter_functions::query_list::{ListOrder, MAX_HIT};

use crate::{Served, Serving, Target};

/// Top searches listed when a request does not say.
pub const DEFAULT_HOT_HIT: usize = 10;
/// Hints listed when a request does not say.
pub const DEFAULT_HINT_HIT: usize = 3;

/// The two functions that answer a list of queries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListKind {
    Hot,
    Hint,
}

impl ListKind {
    pub fn function(self) -> Function {
        match self {
            ListKind::Hot => Function::Hot,
            ListKind::Hint => Function::Hint,
        }
    }

    /// Queries listed when a request does not say.
    pub fn default_hit(self) -> usize {
        match self {
            ListKind::Hot => DEFAULT_HOT_HIT,
            ListKind::Hint => DEFAULT_HINT_HIT,
        }
    }
}

pub struct ListRequest<'a> {
    pub target: Target<'a>,
    pub kind: ListKind,
    /// At most [`MAX_HIT`]; [`ListKind::default_hit`] when `None`.
    pub hit: Option<usize>,
    pub order: ListOrder,
    /// Personalises a `near_realtime` hint instance's list when the generation knows the user.
    pub user: Option<&'a str>,
}

/// One listed query.
#[derive(Clone, Debug, PartialEq)]
pub struct Listed {
    pub query: String,
    pub pv: u64,
    /// OpenSearch's tags: 0 new, 1 popular, 2 rising.
    pub tags: u8,
}

#[derive(Clone, Debug)]
pub struct QueryList {
    pub served: Served,
    pub queries: Vec<Listed>,
}

impl Serving {
    pub async fn query_list(&self, request: ListRequest<'_>) -> Result<QueryList> {
        let ready = self
            .ready::<QueryListModel>(request.target, request.kind.function())
            .await?;
        let hit = request
            .hit
            .unwrap_or_else(|| request.kind.default_hit())
            .min(MAX_HIT);
        let queries = ready
            .model
            .top(hit, request.order, request.user)
            .into_iter()
            .map(|q| Listed {
                query: q.query.clone(),
                pv: q.pv,
                tags: q.tags,
            })
            .collect();
        Ok(QueryList {
            served: ready.served(),
            queries,
        })
    }
}
