//! `hot` and `hint`: the top searches of an app group, and the hints of its search box (personalised for a known
//! user by `near_realtime` hint instances, counting the user's searches since training from the live tail).

use algocenter_domain::{Function, Result};

use crate::suggest::NEAR_REALTIME;
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
        let model = &ready.model;
        // A personalised hint instance counts the user's searches since training (the live tail).
        let live = match request.user {
            Some(user)
                if request.kind == ListKind::Hint
                    && ready.instance.model_type == NEAR_REALTIME
                    && model.trained_until_ms() > 0 =>
            {
                self.live_tail(&ready.instance.app_group, model.trained_until_ms())
                    .searches_of(user)
            }
            _ => Vec::new(),
        };
        let queries = model
            .top_with_live(hit, request.order, request.user, &live)
            .into_iter()
            .map(|q| Listed {
                query: q.query,
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
