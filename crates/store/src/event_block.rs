//! How behaviour events rest on disk: one block per push request, the events postcard-encoded and
//! LZ4-compressed behind a format byte, so that a training window streams at memory speed and a corrupt or foreign
//! block is an error, never a panic.

use algocenter_domain::behaviour::{BehaviourEvent, EventView};
use algocenter_domain::{Error, Result};
use serde::de::{Deserialize, DeserializeSeed, Deserializer, Error as _, SeqAccess, Visitor};

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

/// Calls `f` for every event of block `id` (of behaviour type `only`, when given) as a view borrowed from the
/// decompressed block: no copy of the events' text. The other events are read over without a check of their text
/// or an allocation (the live tail reads every pushed event and keeps only searches). The block decodes whole
/// before `f` is called: a corrupt block is an error with no event seen.
pub fn for_each_view(
    id: i64,
    block: &[u8],
    only: Option<&str>,
    f: &mut dyn FnMut(&EventView<'_>) -> Result<()>,
) -> Result<()> {
    let raw = decompress(id, block)?;
    let mut decoder = postcard::Deserializer::from_bytes(&raw);
    let views = ViewsSeed { only }.deserialize(&mut decoder).map_err(|e| {
        cell("event_block", &id, "data").corrupt(format_args!("does not decode: {e}"))
    })?;
    views.iter().try_for_each(f)
}

/// Decodes a block's events, keeping views of those of behaviour type `only` (all when `None`).
struct ViewsSeed<'o> {
    only: Option<&'o str>,
}

impl<'de> DeserializeSeed<'de> for ViewsSeed<'_> {
    type Value = Vec<EventView<'de>>;

    fn deserialize<D: Deserializer<'de>>(self, decoder: D) -> Result<Self::Value, D::Error> {
        decoder.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ViewsSeed<'_> {
    type Value = Vec<EventView<'de>>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a sequence of behaviour events")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut events: A) -> Result<Self::Value, A::Error> {
        let mut views = Vec::new();
        while let Some(view) = events.next_element_seed(ViewSeed { only: self.only })? {
            views.extend(view);
        }
        Ok(views)
    }
}

/// One event, field for field the postcard layout of [`BehaviourEvent`] (a struct is its fields in order): the
/// text read as bytes until the behaviour type says whether the event is wanted.
struct ViewSeed<'o> {
    only: Option<&'o str>,
}

/// Fields of [`BehaviourEvent`].
const FIELDS: usize = 15;

impl<'de> DeserializeSeed<'de> for ViewSeed<'_> {
    type Value = Option<EventView<'de>>;

    fn deserialize<D: Deserializer<'de>>(self, decoder: D) -> Result<Self::Value, D::Error> {
        decoder.deserialize_tuple(FIELDS, self)
    }
}

impl<'de> Visitor<'de> for ViewSeed<'_> {
    type Value = Option<EventView<'de>>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a behaviour event")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut fields: A) -> Result<Self::Value, A::Error> {
        let mut texts = [&[] as &[u8]; 8];
        for text in &mut texts {
            *text = field(&mut fields)?;
        }
        let [
            user_id,
            imei,
            biz_id,
            trace_id,
            rn,
            item_id,
            item_type,
            bhv_type,
        ] = texts;
        let bhv_time_ms: i64 = field(&mut fields)?;
        let reach_time_ms: i64 = field(&mut fields)?;
        let raw_query: &[u8] = field(&mut fields)?;
        let hits: Option<u32> = field(&mut fields)?;
        let position: Option<u32> = field(&mut fields)?;
        if self.only.is_some_and(|only| only.as_bytes() != bhv_type) {
            field::<SkippedPairs, _>(&mut fields)?;
            field::<SkippedPairs, _>(&mut fields)?;
            return Ok(None);
        }
        let context = field(&mut fields)?;
        let extra = field(&mut fields)?;
        let text = |bytes| std::str::from_utf8(bytes).map_err(A::Error::custom);
        Ok(Some(EventView {
            user_id: text(user_id)?,
            imei: text(imei)?,
            biz_id: text(biz_id)?,
            trace_id: text(trace_id)?,
            rn: text(rn)?,
            item_id: text(item_id)?,
            item_type: text(item_type)?,
            bhv_type: text(bhv_type)?,
            bhv_time_ms,
            reach_time_ms,
            raw_query: text(raw_query)?,
            hits,
            position,
            context,
            extra,
        }))
    }
}

fn field<'de, T: Deserialize<'de>, A: SeqAccess<'de>>(fields: &mut A) -> Result<T, A::Error> {
    fields
        .next_element()?
        .ok_or_else(|| A::Error::custom("the event ends early"))
}

/// A `context` or `extra` map read over: its pairs' lengths read, nothing kept.
struct SkippedPairs;

impl<'de> Deserialize<'de> for SkippedPairs {
    fn deserialize<D: Deserializer<'de>>(decoder: D) -> Result<Self, D::Error> {
        decoder.deserialize_seq(SkippedPairs)
    }
}

impl<'de> Visitor<'de> for SkippedPairs {
    type Value = SkippedPairs;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a sequence of pairs of strings")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut pairs: A) -> Result<Self::Value, A::Error> {
        while pairs.next_element::<(&[u8], &[u8])>()?.is_some() {}
        Ok(SkippedPairs)
    }
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
        for_each_view(1, &block, None, &mut |v| {
            viewed.push(v.to_event());
            Ok(())
        })
        .unwrap();
        assert_eq!(viewed, events);
        let mut seen = 0;
        let failed = for_each_view(1, &block[..block.len() - 1], None, &mut |_| {
            seen += 1;
            Ok(())
        });
        assert!(matches!(failed, Err(Error::Corrupt { .. })) && seen == 0);
    }

    #[test]
    fn views_of_one_type_are_those_events_and_the_others_are_read_over() {
        // Searches among other events, every field set, so that skipping a field wrongly shifts what follows.
        let events: Vec<_> = (0..60)
            .map(|i| BehaviourEvent {
                bhv_type: ["expose", "search", "click"][i as usize % 3].into(),
                raw_query: format!("shoes {i}"),
                hits: Some(i),
                extra: (0..i % 4).map(|k| (format!("k{k}"), "v".into())).collect(),
                ..event(i)
            })
            .collect();
        let block = encode(&events).unwrap();
        let mut searches = Vec::new();
        for_each_view(1, &block, Some("search"), &mut |v| {
            searches.push(v.to_event());
            Ok(())
        })
        .unwrap();
        let expected: Vec<_> = events
            .iter()
            .filter(|e| e.bhv_type == "search")
            .cloned()
            .collect();
        assert_eq!(searches.len(), 20);
        assert_eq!(searches, expected);
        let mut none = 0;
        for_each_view(1, &block, Some("cart"), &mut |_| {
            none += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(none, 0);
        let mut seen = 0;
        let failed = for_each_view(1, &block[..block.len() - 1], Some("search"), &mut |_| {
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
