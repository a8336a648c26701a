//! Cases mirroring Prometheus's relabeling documentation and its behaviour.

use super::*;

fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = pairs.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect();
    out.sort();
    out
}

fn rule(action: Action, sources: &[&str], regex: &str, target: &str, replacement: &str) -> Rule {
    Rule::new(action, sources.iter().map(|s| (*s).to_owned()).collect(), ";", regex, 0, target, replacement).unwrap()
}

fn run(input: &[(&str, &str)], rules: &[Rule]) -> Option<Vec<(String, String)>> {
    let mut set = labels(input);
    process(&mut set, rules).then_some(set)
}

const ABC: &[(&str, &str)] = &[("a", "foo"), ("b", "bar"), ("c", "baz")];

#[test]
fn replace_expands_groups_into_the_target() {
    let out = run(ABC, &[rule(Action::Replace, &["a"], "f(.*)", "d", "ch${1}-ch${1}")]);
    assert_eq!(out, Some(labels(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "choo-choo")])));
}

#[test]
fn replace_joins_source_labels_with_the_separator() {
    let out = run(ABC, &[rule(Action::Replace, &["a", "b"], "f(.*);(.*)r", "a", "b${1}${2}m")]);
    assert_eq!(out, Some(labels(&[("a", "boobam"), ("b", "bar"), ("c", "baz")])));
}

#[test]
fn replace_without_a_match_changes_nothing() {
    let out = run(ABC, &[rule(Action::Replace, &["a"], "x(.*)", "d", "$1")]);
    assert_eq!(out, Some(labels(ABC)));
}

#[test]
fn replace_to_empty_deletes_the_target_and_missing_sources_are_empty() {
    let out = run(ABC, &[rule(Action::Replace, &["nope"], "(.*)", "a", "$1")]);
    assert_eq!(out, Some(labels(&[("b", "bar"), ("c", "baz")])));
}

#[test]
fn replace_expands_the_target_label_too() {
    let out = run(&[("__meta_x", "env-prod")], &[rule(Action::Replace, &["__meta_x"], "(env)-(.*)", "${1}", "$2")]);
    assert_eq!(out, Some(labels(&[("__meta_x", "env-prod"), ("env", "prod")])));
}

#[test]
fn dollar_followed_by_letters_names_a_group_as_in_go() {
    // `$1x` means the group named "1x", which does not exist: empty, as in Go.
    let out = run(&[("a", "foo")], &[rule(Action::Replace, &["a"], "(f)oo", "b", "$1x")]);
    assert_eq!(out, Some(labels(&[("a", "foo")])));
    let out = run(&[("a", "foo")], &[rule(Action::Replace, &["a"], "(f)oo", "b", "${1}x")]);
    assert_eq!(out, Some(labels(&[("a", "foo"), ("b", "fx")])));
}

#[test]
fn keep_and_drop_are_fully_anchored() {
    assert!(run(ABC, &[rule(Action::Keep, &["a"], "f.*", "", "")]).is_some());
    assert!(run(ABC, &[rule(Action::Keep, &["a"], "o", "", "")]).is_none(), "o does not match the whole of foo");
    assert!(run(ABC, &[rule(Action::Drop, &["a"], ".*o.*", "", "")]).is_none());
    assert!(run(ABC, &[rule(Action::Drop, &["a"], "o", "", "")]).is_some());
}

#[test]
fn keepequal_and_dropequal_compare_with_the_target() {
    let same = &[("a", "x"), ("b", "x")];
    let different = &[("a", "x"), ("b", "y")];
    assert!(run(same, &[rule(Action::KeepEqual, &["a"], "(.*)", "b", "$1")]).is_some());
    assert!(run(different, &[rule(Action::KeepEqual, &["a"], "(.*)", "b", "$1")]).is_none());
    assert!(run(same, &[rule(Action::DropEqual, &["a"], "(.*)", "b", "$1")]).is_none());
    assert!(run(different, &[rule(Action::DropEqual, &["a"], "(.*)", "b", "$1")]).is_some());
}

#[test]
fn hashmod_matches_prometheus_sharding() {
    let mut hash = rule(Action::HashMod, &["c"], "(.*)", "d", "$1");
    hash.modulus = 1000;
    // md5("baz"), last 8 bytes big-endian, mod 1000: what Prometheus computes.
    assert_eq!(run(ABC, &[hash]), Some(labels(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "976")])));
}

#[test]
fn labelmap_copies_matching_names() {
    let input =
        &[("__meta_kubernetes_pod_label_app", "web"), ("__meta_kubernetes_pod_label_tier", "front"), ("job", "k")];
    let out = run(input, &[rule(Action::LabelMap, &[], "__meta_kubernetes_pod_label_(.+)", "", "$1")]).unwrap();
    assert_eq!(out.iter().find(|(n, _)| n == "app").map(|(_, v)| v.as_str()), Some("web"));
    assert_eq!(out.iter().find(|(n, _)| n == "tier").map(|(_, v)| v.as_str()), Some("front"));
    assert_eq!(out.len(), 5, "originals kept: {out:?}");
}

#[test]
fn labeldrop_and_labelkeep_filter_names() {
    let out = run(ABC, &[rule(Action::LabelDrop, &[], "a|b", "", "")]);
    assert_eq!(out, Some(labels(&[("c", "baz")])));
    let out = run(ABC, &[rule(Action::LabelKeep, &[], "a|b", "", "")]);
    assert_eq!(out, Some(labels(&[("a", "foo"), ("b", "bar")])));
}

#[test]
fn lowercase_and_uppercase() {
    let input = &[("a", "FooBar")];
    assert_eq!(
        run(input, &[rule(Action::Lowercase, &["a"], "(.*)", "b", "$1")]),
        Some(labels(&[("a", "FooBar"), ("b", "foobar")]))
    );
    assert_eq!(run(input, &[rule(Action::Uppercase, &["a"], "(.*)", "a", "$1")]), Some(labels(&[("a", "FOOBAR")])));
}

#[test]
fn rules_apply_in_order_and_stop_at_a_drop() {
    let rules = [
        rule(Action::Replace, &["__address__"], "(.*):9100", "instance", "$1"),
        rule(Action::Drop, &["instance"], "db.*", "", ""),
        rule(Action::Replace, &[], "(.*)", "never", "set"),
    ];
    let kept = run(&[("__address__", "web1:9100")], &rules).unwrap();
    assert!(kept.contains(&("instance".to_owned(), "web1".to_owned())));
    assert!(run(&[("__address__", "db1:9100")], &rules).is_none());
}
