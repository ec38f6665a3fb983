//! A loaded generation of any function, and typed access to it for the function's serving entry.

use std::sync::Arc;

use algocenter_domain::instance::Instance;
use algocenter_domain::{Error, Function, Result};
use algocenter_functions::analyzer::AnalyzerModel;
use algocenter_functions::category::CategoryModel;
use algocenter_functions::ctr::CtrModel;
use algocenter_functions::pop::PopModel;
use algocenter_functions::query_list::QueryListModel;
use algocenter_functions::suggest::SuggestIndex;
use algocenter_functions::termweight::TermweightModel;

/// A loaded generation of any function. Each kind is behind its own `Arc` so that an entry can hold the typed
/// model it serves from while a newer generation replaces it in the cache.
#[derive(Clone, Debug)]
pub enum Model {
    Pop(Arc<PopModel>),
    /// `hot` and `hint`.
    QueryList(Arc<QueryListModel>),
    Suggest(Arc<SuggestIndex>),
    Category(Arc<CategoryModel>),
    Ctr(Arc<CtrModel>),
    Analyzer(Arc<AnalyzerModel>),
    Termweight(Arc<TermweightModel>),
}

impl Model {
    /// Decodes the artifact of a generation of `function`.
    pub fn decode(function: Function, bytes: &[u8]) -> Result<Model> {
        Ok(match function {
            Function::Pop => Model::Pop(Arc::new(PopModel::decode(bytes)?)),
            Function::Hot | Function::Hint => {
                Model::QueryList(Arc::new(QueryListModel::decode(bytes)?))
            }
            Function::Suggest => Model::Suggest(Arc::new(SuggestIndex::decode(bytes)?)),
            Function::Category => Model::Category(Arc::new(CategoryModel::decode(bytes)?)),
            Function::Ctr => Model::Ctr(Arc::new(CtrModel::decode(bytes)?)),
            Function::Analyzer => Model::Analyzer(Arc::new(AnalyzerModel::decode(bytes)?)),
            Function::Termweight => Model::Termweight(Arc::new(TermweightModel::decode(bytes)?)),
        })
    }

    /// Entries of the model, for the load log line.
    pub(crate) fn size(&self) -> usize {
        match self {
            Model::Pop(m) => m.len(),
            Model::QueryList(m) => m.len(),
            Model::Suggest(m) => m.len(),
            Model::Category(m) => m.known_queries(),
            Model::Ctr(m) => m.rows(),
            Model::Analyzer(m) => m.words().len(),
            Model::Termweight(m) => m.terms(),
        }
    }
}

/// A model type one serving entry answers from.
pub(crate) trait Kind: Sized {
    fn of(model: &Model) -> Option<Arc<Self>>;
}

macro_rules! kind {
    ($model:ty, $variant:ident) => {
        impl Kind for $model {
            fn of(model: &Model) -> Option<Arc<Self>> {
                match model {
                    Model::$variant(m) => Some(Arc::clone(m)),
                    _ => None,
                }
            }
        }
    };
}

kind!(PopModel, Pop);
kind!(QueryListModel, QueryList);
kind!(SuggestIndex, Suggest);
kind!(CategoryModel, Category);
kind!(CtrModel, Ctr);
kind!(AnalyzerModel, Analyzer);
kind!(TermweightModel, Termweight);

/// The artifact of an instance decoded as another function's model: the artifact store is inconsistent.
pub(crate) fn wrong_kind(instance: &Instance) -> Error {
    Error::internal(format_args!(
        "the serving artifact of instance '{}' is not a {} model",
        instance.name, instance.function
    ))
}
