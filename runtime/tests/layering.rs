//! The runtime's modules are layered: no module reaches, through `crate::` paths, a module
//! that reaches it back. Read from the sources, so a new import that closes a circle fails
//! here, naming it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// `crate::name` paths in `source`, comments left out.
fn crate_paths(source: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in source.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            let name: String = after.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                found.insert(name);
            }
            rest = after;
        }
    }
    found
}

/// The top-level module of every source file, and the modules it uses.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut pending = vec![root.clone()];
    while let Some(directory) = pending.pop() {
        for entry in std::fs::read_dir(&directory).expect("read the sources") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let relative = path.strip_prefix(&root).expect("under src");
            let first = relative.components().next().expect("a component").as_os_str().to_string_lossy().into_owned();
            let module = first.trim_end_matches(".rs").to_owned();
            if module == "lib" {
                continue;
            }
            let source = std::fs::read_to_string(&path).expect("read a source file");
            graph
                .entry(module.clone())
                .or_default()
                .extend(crate_paths(&source).into_iter().filter(|used| *used != module));
        }
    }
    let modules: BTreeSet<String> = graph.keys().cloned().collect();
    for uses in graph.values_mut() {
        uses.retain(|used| modules.contains(used));
    }
    graph
}

/// A path from `from` back to `from` through `graph`, if there is one.
fn circle(graph: &BTreeMap<String, BTreeSet<String>>, from: &str) -> Option<Vec<String>> {
    let mut stack = vec![(from.to_owned(), vec![from.to_owned()])];
    let mut visited = BTreeSet::new();
    while let Some((module, path)) = stack.pop() {
        for next in graph.get(&module).into_iter().flatten() {
            if next == from {
                let mut circle = path.clone();
                circle.push(from.to_owned());
                return Some(circle);
            }
            if visited.insert(next.clone()) {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push((next.clone(), longer));
            }
        }
    }
    None
}

#[test]
fn no_module_imports_a_module_that_imports_it_back() {
    let graph = graph();
    assert!(graph.len() > 10, "the sources were found: {graph:?}");
    // `__private` re-exports what generated code needs from everywhere; nothing may use it.
    for (module, uses) in &graph {
        assert!(!uses.contains("__private") || module == "__private", "`{module}` uses `__private`");
    }
    let circles: Vec<String> = graph
        .keys()
        .filter(|module| *module != "__private")
        .filter_map(|module| circle(&graph, module))
        .map(|circle| circle.join(" -> "))
        .collect();
    assert!(circles.is_empty(), "import circles between the runtime's modules:\n{}", circles.join("\n"));
}

#[test]
fn the_check_finds_a_circle() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a".to_owned(), BTreeSet::from(["b".to_owned()])),
        ("b".to_owned(), BTreeSet::from(["c".to_owned()])),
        ("c".to_owned(), BTreeSet::from(["a".to_owned()])),
    ]
    .into();
    assert_eq!(circle(&graph, "a"), Some(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
    assert_eq!(
        crate_paths("use crate::store::X; // crate::app\nlet x = crate::id::new();"),
        BTreeSet::from(["id".to_owned(), "store".to_owned()])
    );
}
