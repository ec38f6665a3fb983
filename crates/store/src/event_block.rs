//! How behaviour events rest on disk: one block per push request, the events postcard-encoded and
//! LZ4-compressed behind a format byte, so that a training window streams at memory speed and a corrupt or foreign
//! block is an error, never a panic.

use algocenter_domain::behaviour::{BehaviourEvent, EventView};
use algocenter_domain::{Error, Result};

use crate::stored::cell;

/// Format of the blocks this build writes.
const FORMAT_V1: u8 = 1;

pub fn encode(events: &[BehaviourEvent]) -> Result<Vec<u8>> {
    let raw = postcard::to_allocvec(events)
        .map_err(|e| Error::internal(format_args!("encoding events: {e}")))?;
    let mut block = Vec::with_capacity(raw.len() / 3 + 8);
    block.push(FORMAT_V1);
    block.extend_from_slice(&lz4_flex::compress_prepend_size(&raw));
    Ok(block)
}

/// The events of block `id` (its `data` column).
pub fn decode(id: i64, block: &[u8]) -> Result<Vec<BehaviourEvent>> {
    let raw = decompress(id, block)?;
    postcard::from_bytes(&raw)
        .map_err(|e| cell("event_block", &id, "data").corrupt(format_args!("does not decode: {e}")))
}

/// Calls `f` for every event of block `id` as a view borrowed from the decompressed block: no copy of the
/// events' text (the live tail reads every pushed event and keeps only searches).
pub fn for_each_view(
    id: i64,
    block: &[u8],
    f: &mut dyn FnMut(&EventView<'_>) -> Result<()>,
) -> Result<()> {
    let raw = decompress(id, block)?;
    let views: Vec<EventView<'_>> = postcard::from_bytes(&raw).map_err(|e| {
        cell("event_block", &id, "data").corrupt(format_args!("does not decode: {e}"))
    })?;
    views.iter().try_for_each(f)
}

/// The postcard bytes of block `id`.
fn decompress(id: i64, block: &[u8]) -> Result<Vec<u8>> {
    let data = cell("event_block", &id, "data");
    match block.split_first() {
        Some((&FORMAT_V1, compressed)) => lz4_flex::decompress_size_prepended(compressed)
            .map_err(|e| data.corrupt(format_args!("does not decompress: {e}"))),
        Some((format, _)) => Err(data.corrupt(format_args!("unknown block format {format}"))),
        None => Err(data.corrupt("empty block")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(i: u32) -> BehaviourEvent {
        BehaviourEvent {
            user_id: format!("u{i}"),
            imei: String::new(),
            biz_id: "default".into(),
            trace_id: "Alibaba".into(),
            rn: format!("rn{}", i / 10),
            item_id: format!("item{}", i % 97),
            item_type: "item".into(),
            bhv_type: "expose".into(),
            bhv_time_ms: 1_790_000_000_000 + i64::from(i),
            reach_time_ms: 1_790_000_000_000,
            raw_query: String::new(),
            hits: None,
            position: Some(i % 10 + 1),
            context: vec![("device".into(), "ios".into())],
            extra: vec![],
        }
    }

    #[test]
    fn blocks_round_trip_and_compress() {
        let events: Vec<_> = (0..1000).map(event).collect();
        let block = encode(&events).unwrap();
        assert_eq!(decode(1, &block).unwrap(), events);
        let raw = postcard::to_allocvec(&events).unwrap().len();
        assert!(
            block.len() * 2 < raw,
            "{} compressed vs {raw} raw",
            block.len()
        );
    }

    #[test]
    fn views_decode_every_field_as_the_owned_events() {
        // Every field set, so that a view whose layout drifted from the event's fails here.
        let events: Vec<_> = (0..50)
            .map(|i| BehaviourEvent {
                imei: format!("d{i}"),
                raw_query: format!("red shoes {i}"),
                hits: Some(i),
                position: (i % 2 == 0).then_some(i),
                extra: vec![
                    ("bhv_value".into(), format!("{i}")),
                    ("sdk".into(), "js".into()),
                ],
                ..event(i)
            })
            .collect();
        let block = encode(&events).unwrap();
        let mut viewed = Vec::new();
        for_each_view(1, &block, &mut |v| {
            viewed.push(v.to_event());
            Ok(())
        })
        .unwrap();
        assert_eq!(viewed, events);
        let mut seen = 0;
        let failed = for_each_view(1, &block[..block.len() - 1], &mut |_| {
            seen += 1;
            Ok(())
        });
        assert!(matches!(failed, Err(Error::Corrupt { .. })) && seen == 0);
    }

    #[test]
    fn corrupt_and_foreign_blocks_are_errors() {
        let mut block = encode(&[event(1)]).unwrap();
        let corrupt = |result: Result<Vec<BehaviourEvent>>| {
            matches!(
                result,
                Err(Error::Corrupt {
                    table: "event_block",
                    column: "data",
                    ..
                })
            )
        };
        assert!(corrupt(decode(1, &[])));
        assert!(corrupt(decode(1, &[9, 1, 2, 3])));
        let last = block.len() - 1;
        block.truncate(last);
        assert!(corrupt(decode(1, &block)));
        assert!(corrupt(decode(1, &[FORMAT_V1, 255, 255, 255, 255, 0])));
    }
}
