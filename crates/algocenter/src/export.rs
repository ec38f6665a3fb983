//! `algocenter export`: stored records as JSON Lines push records, to a file or standard output.

use std::io::Write;
use std::process::ExitCode;

use crate::cli::{ClientArgs, ExportArgs};
use crate::client::{Client, Failure, error_text, segment};

fn sink(args: &ExportArgs) -> Result<Box<dyn Write>, Failure> {
    let Some(path) = &args.out else {
        return Ok(Box::new(std::io::BufWriter::new(std::io::stdout().lock())));
    };
    let file = std::fs::File::create(path)
        .map_err(|e| Failure::Transport(format!("cannot create {}: {e}", path.display())))?;
    let file = std::io::BufWriter::new(file);
    Ok(if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::write::GzEncoder::new(
            file,
            flate2::Compression::default(),
        ))
    } else {
        Box::new(file)
    })
}

async fn export(client: &Client, args: &ExportArgs) -> Result<u64, Failure> {
    let collection = args.collection.clone().unwrap_or_else(|| args.app.clone());
    let mut path = format!(
        "/v3/openapi/app-groups/{}/data-collections/{}/data-collection-type/{}/actions/export",
        segment(&args.app),
        segment(&collection),
        segment(&args.kind)
    );
    if let Some(days) = args.days {
        let from = algocenter_domain::now_ms() - i64::from(days) * algocenter_domain::data::DAY_MS;
        path.push_str(&format!("?from={from}"));
    }
    let mut response = client.get_stream(&path).await?;
    if !response.status().is_success() {
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let body: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        return Err(Failure::Api(error_text(status, &body)));
    }
    let mut out = sink(args)?;
    let mut lines = 0u64;
    let broken = |e: std::io::Error| Failure::Transport(format!("cannot write the export: {e}"));
    // A body that ends abnormally (server failure half way) is an error, never a silently short file.
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| Failure::Transport(format!("the export was cut off: {e}")))?
    {
        lines += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
        out.write_all(&chunk).map_err(broken)?;
    }
    out.flush().map_err(broken)?;
    drop(out);
    Ok(lines)
}

pub async fn run(client_args: ClientArgs, args: ExportArgs) -> ExitCode {
    let client = Client::new(&client_args);
    match export(&client, &args).await {
        Ok(lines) => {
            eprintln!("exported {lines} records");
            ExitCode::SUCCESS
        }
        Err(failure) => failure.exit(),
    }
}
