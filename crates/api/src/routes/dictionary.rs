//! Export of a trained instance's dictionary as a file a search engine loads (extension):
//! `GET .../functions/{fn}/instances/{instance}/dictionary?format=F`, one route for every function that has one:
//! `analyzer` answers `format=jieba|ik` (see [`super::query_analysis::dictionary`]), `synonym` `format=solr`, the
//! synonym file format of Solr and Elasticsearch (`synonyms_path` of a synonym token filter).

use algocenter_domain::{Error, Function};
use algocenter_serving::Target;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::envelope::ApiError;
use crate::extract::{Query, Segments, function};

pub async fn export(
    state: AppState,
    Segments((app, name, instance)): Segments<(String, String, String)>,
    query: Query,
) -> Result<Response, ApiError> {
    let function = function(&name)?;
    if function == Function::Analyzer {
        return super::query_analysis::dictionary(state, Segments((app, name, instance)), query)
            .await;
    }
    let format = query.non_empty("format").unwrap_or("");
    let target = Target::new(&app, Some(&instance));
    match (function, format) {
        (Function::Synonym, "solr") => {
            let file = state.services.serving().synonym_file(target).await?;
            Ok((
                [
                    (
                        header::CONTENT_TYPE,
                        "text/plain; charset=utf-8".to_string(),
                    ),
                    (
                        header::CONTENT_DISPOSITION,
                        format!(
                            "attachment; filename=\"synonyms-{}-{}.txt\"",
                            file.served.instance, file.served.generation
                        ),
                    ),
                ],
                file.text,
            )
                .into_response())
        }
        (Function::Synonym, other) => Err(ApiError(Error::invalid(format_args!(
            "format '{other}' is not offered for synonym dictionaries; valid: solr."
        )))),
        (other, _) => Err(ApiError(Error::invalid(format_args!(
            "function '{other}' has no dictionary to export."
        )))),
    }
}
