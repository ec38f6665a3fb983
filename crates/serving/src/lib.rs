//! Serving: prediction from the serving generation of an instance, one typed entry per function.
//!
//! Every entry takes a typed request naming its [`Target`] (an app group and an instance, or the function's
//! default instance) and answers a typed result with the instance and generation that [`Served`] it. An entry
//! does the whole of a prediction: the instance lookup, the usage parameters, the generation switch, any store
//! look-up the model needs (ctr's stored item attributes) and the model call. The faces (the API's routes, the
//! dashboard, the CLI through the API) only parse their wire form into a request and shape the answer.
//!
//! * [`pop`]: popularity scores of items;
//! * [`query_list`]: the top searches (`hot`) and search-box hints (`hint`);
//! * [`suggest`]: drop-down completions;
//! * [`category`]: the categories of queries;
//! * [`ctr`]: candidates reranked by click probability;
//! * [`analyzer`]: texts cut into tokens, and the lexicon as a user dictionary;
//! * [`termweight`]: the weight and level of each term of a query;
//! * [`query_analysis`]: a query analysed by the instances a query-analysis rule names, and rewritten.
//!
//! The instance cache, the model cache and the generation switch they share are in one place, [`Serving`]. A new
//! function adds a module here with its request, its answer and an `impl Serving` entry.

pub mod analyzer;
pub mod category;
pub mod ctr;
mod generations;
mod model;
pub mod pop;
pub mod query_analysis;
pub mod query_list;
pub mod suggest;
pub mod termweight;

pub use generations::{INSTANCE_TTL, Serving};
pub use model::Model;

/// Which instance answers a request: `instance` of the app group `app`, or the function's default instance when
/// the request names none.
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    pub app: &'a str,
    pub instance: Option<&'a str>,
}

impl<'a> Target<'a> {
    pub fn new(app: &'a str, instance: Option<&'a str>) -> Self {
        Target { app, instance }
    }
}

/// The instance that answered and the generation of its model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Served {
    pub instance: String,
    pub generation: i64,
}
