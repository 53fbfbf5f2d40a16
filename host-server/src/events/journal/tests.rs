use chrono::DateTime;

use super::*;

const SCOPE: StoreScope = StoreScope { org_id: 7, env_id: 3 };

fn batch(tag: &str, n: u32) -> EncodedEvents {
    let events: Vec<NewEvent> = (0..n)
        .map(|i| NewEvent {
            tenant_id: "acme".into(),
            event_name: tag.into(),
            timestamp: DateTime::from_timestamp(1_780_000_000 + i as i64, 0).unwrap(),
            event_id: format!("{tag}-{i}"),
            client_event_id: true,
            user_id: None,
            string_props: vec![],
            numeric_props: vec![("n".into(), i as f64)],
        })
        .collect();
    EncodedEvents::new(&events, None)
}

fn append(journal: &mut Journal, tags: &[&str]) -> Vec<u64> {
    let batches: Vec<EncodedEvents> = tags.iter().map(|t| batch(t, 3)).collect();
    let entries: Vec<Entry<'_>> = batches.iter().map(|b| Entry { scope: SCOPE, events: b }).collect();
    journal.append(&entries, 20_600).unwrap()
}

fn names(replay: &[Replayed]) -> Vec<String> {
    replay.iter().map(|r| r.events().unwrap()[0].event_name.clone()).collect()
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    out.sort();
    out
}

#[test]
fn records_after_the_loaded_lsn_come_back_in_order_and_numbering_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let (mut journal, replay) = Journal::open(dir.path(), 0).unwrap();
    assert!(replay.is_empty());
    assert_eq!(append(&mut journal, &["a", "b"]), vec![1, 2]);
    assert_eq!(append(&mut journal, &["c"]), vec![3]);
    drop(journal);

    let (mut journal, replay) = Journal::open(dir.path(), 1).unwrap();
    assert_eq!(names(&replay), ["b", "c"]);
    assert_eq!(
        replay.iter().map(|r| (r.lsn, r.scope, r.day)).collect::<Vec<_>>(),
        [(2, SCOPE, 20_600), (3, SCOPE, 20_600)]
    );
    assert_eq!(replay[0].events().unwrap().len(), 3);
    assert_eq!(append(&mut journal, &["d"]), vec![4]);
    drop(journal);

    // Everything loaded: the old segments go, and numbering still goes on after the last LSN.
    let (mut journal, replay) = Journal::open(dir.path(), 4).unwrap();
    assert!(replay.is_empty());
    assert_eq!(segments(dir.path()).len(), 1, "only the new segment is left");
    assert_eq!(append(&mut journal, &["e"]), vec![5]);
}

#[test]
fn a_torn_or_corrupt_tail_is_cut_off_and_the_journal_starts_cleanly_after_it() {
    for damage in ["truncate", "flip", "garbage"] {
        let dir = tempfile::tempdir().unwrap();
        let (mut journal, _) = Journal::open(dir.path(), 0).unwrap();
        append(&mut journal, &["a", "b"]);
        append(&mut journal, &["c"]);
        drop(journal);
        let path = segments(dir.path()).pop().unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        let whole = bytes.len();
        match damage {
            // A write cut short by the crash: half of the last record reached the disk.
            "truncate" => bytes.truncate(whole - 20),
            // A bit flipped inside the last record's events.
            "flip" => bytes[whole - 5] ^= 0x40,
            // Bytes after the last record that are no record at all.
            _ => bytes.extend_from_slice(&[0xff; 13]),
        }
        std::fs::write(&path, &bytes).unwrap();

        let (mut journal, replay) = Journal::open(dir.path(), 0).unwrap();
        let expected: &[&str] = if damage == "garbage" { &["a", "b", "c"] } else { &["a", "b"] };
        assert_eq!(names(&replay), expected, "{damage}");
        let cut = std::fs::metadata(&path).unwrap().len() as usize;
        assert!(
            cut < bytes.len() && cut <= whole,
            "{damage}: the tail was cut off ({cut} of {})",
            bytes.len()
        );
        // The next record follows the last good one, and everything reads back after a restart.
        let next = expected.len() as u64 + 1;
        assert_eq!(append(&mut journal, &["d"]), vec![next], "{damage}");
        drop(journal);
        let (_, replay) = Journal::open(dir.path(), 0).unwrap();
        let mut all = expected.to_vec();
        all.push("d");
        assert_eq!(names(&replay), all, "{damage}");
    }
}

#[test]
fn a_segment_without_its_header_or_with_a_gap_in_numbering_is_not_read_as_records() {
    let dir = tempfile::tempdir().unwrap();
    let (mut journal, _) = Journal::open(dir.path(), 0).unwrap();
    append(&mut journal, &["a"]);
    drop(journal);
    // A segment named for LSN 9 whose first record says 2: not a continuation, so not read.
    let path = segments(dir.path()).pop().unwrap();
    let renamed = dir.path().join(format!("{:020}.seg", 9));
    std::fs::rename(&path, &renamed).unwrap();
    std::fs::write(dir.path().join(format!("{:020}.seg", 20)), b"EMB").unwrap();
    let (mut journal, replay) = Journal::open(dir.path(), 0).unwrap();
    assert!(replay.is_empty(), "{replay:?}");
    assert_eq!(append(&mut journal, &["b"]), vec![1]);
}

#[test]
fn segments_rotate_and_loaded_ones_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let (mut journal, _) = Journal::open_sized(dir.path(), 0, 100).unwrap();
    for tag in ["a", "b", "c", "d", "e"] {
        append(&mut journal, &[tag]);
    }
    assert_eq!(journal.segment_count(), 5, "each record filled a segment");
    journal.release(2).unwrap();
    assert_eq!(journal.segment_count(), 3, "the segments of LSNs 1 and 2 are deleted");
    assert_eq!(segments(dir.path()).len(), 3);
    journal.release(5).unwrap();
    assert_eq!(journal.segment_count(), 1, "the segment being written stays");
    drop(journal);
    let (_, replay) = Journal::open_sized(dir.path(), 3, 100).unwrap();
    assert_eq!(names(&replay), ["e"], "LSN 5 is in the kept segment");
}
