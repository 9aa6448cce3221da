//! The domain's diagram as SVG, drawn on the server: five columns (commands, aggregates,
//! events, projections, queries) with an arrow for each "handled by", "writes", "applied by"
//! and "answers". No script and no external renderer, so that it shows offline.

use std::fmt::Write as _;

use eventsmith_runtime::catalog::Catalog;

use crate::html::Escaped;

const NODE_WIDTH: u32 = 170;
const NODE_HEIGHT: u32 = 30;
const COLUMN_GAP: u32 = 56;
const ROW_GAP: u32 = 14;
const MARGIN: u32 = 10;
const HEADER: u32 = 30;
/// Labels longer than this are cut, with the whole name in the node's tooltip.
const LABEL_CHARS: usize = 22;

const COLUMNS: [(&str, &str); 5] = [
    ("commands", "command"),
    ("aggregates", "aggregate"),
    ("events", "event"),
    ("projections", "projection"),
    ("queries", "query"),
];

/// A node's place: its column and its row in it.
type Place = (usize, usize);

struct Node {
    label: String,
    class: &'static str,
}

/// The catalog's diagram: an `<svg>` element with a `<title>`, nodes as `<g class="node
/// KIND">` with their names, and edges as `<path class="edge KIND">`.
#[must_use]
pub fn svg(catalog: &Catalog) -> String {
    let mut columns: [Vec<Node>; 5] = Default::default();
    // From a node to a node, with the edge's class.
    let mut edges: Vec<(Place, Place, &'static str)> = Vec::new();
    let mut event_rows: Vec<(&str, &str)> = Vec::new();
    for events in &catalog.events {
        for event_type in &events.types {
            let (label, class) = if event_type.deprecated {
                (format!("{} v{} (deprecated)", event_type.name, event_type.version), "deprecated")
            } else {
                (format!("{} v{}", event_type.name, event_type.version), "")
            };
            columns[2].push(Node { label, class });
            event_rows.push((events.namespace, event_type.name));
        }
    }
    let event_row = |namespace: &str, name: &str| event_rows.iter().position(|row| *row == (namespace, name));
    for aggregate in &catalog.aggregates {
        let row = columns[1].len();
        columns[1].push(Node { label: aggregate.name.to_owned(), class: "" });
        for command in &aggregate.commands {
            edges.push(((0, columns[0].len()), (1, row), "handles"));
            columns[0].push(Node { label: command.rust_type.clone(), class: "" });
            for produced in &command.produces {
                if let Some(event) = event_row(aggregate.namespace, produced) {
                    let edge = ((1, row), (2, event), "writes");
                    if !edges.contains(&edge) {
                        edges.push(edge);
                    }
                }
            }
        }
    }
    for projection in &catalog.projections {
        let row = columns[3].len();
        columns[3].push(Node { label: projection.name.to_owned(), class: "" });
        for event in &projection.events {
            if let Some(event) = event_row(event.namespace, event.name) {
                edges.push(((2, event), (3, row), "applies"));
            }
        }
        for query in &projection.queries {
            edges.push(((3, row), (4, columns[4].len()), "answers"));
            columns[4].push(Node { label: query.rust_type.clone(), class: "" });
        }
    }

    let tallest = columns.iter().map(Vec::len).max().unwrap_or(0).max(1);
    let height = HEADER + MARGIN * 2 + to_u32(tallest) * (NODE_HEIGHT + ROW_GAP);
    let width = MARGIN * 2 + 5 * NODE_WIDTH + 4 * COLUMN_GAP;
    // Each column is centred on the tallest.
    let top = |column: usize| HEADER + MARGIN + (to_u32(tallest - columns[column].len()) * (NODE_HEIGHT + ROW_GAP)) / 2;
    let x = |column: usize| MARGIN + to_u32(column) * (NODE_WIDTH + COLUMN_GAP);
    let y = |column: usize, row: usize| top(column) + to_u32(row) * (NODE_HEIGHT + ROW_GAP);

    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg class=\"domain\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" \
         height=\"{height}\" role=\"img\" aria-labelledby=\"domain-title\">\n<title id=\"domain-title\">The domain: \
         commands, aggregates, events, projections and queries</title>\n<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" \
         refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\">\
         <path d=\"M 0 0 L 10 5 L 0 10 z\" class=\"arrowhead\"/></marker></defs>"
    );
    for (column, (heading, _)) in COLUMNS.iter().enumerate() {
        let _ = writeln!(
            out,
            "<text class=\"heading\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{heading}</text>",
            x(column) + NODE_WIDTH / 2,
            MARGIN + 14
        );
    }
    for (from, to, class) in &edges {
        let (x1, y1) = (x(from.0) + NODE_WIDTH, y(from.0, from.1) + NODE_HEIGHT / 2);
        let (x2, y2) = (x(to.0), y(to.0, to.1) + NODE_HEIGHT / 2);
        let bend = COLUMN_GAP / 2;
        let _ = writeln!(
            out,
            "<path class=\"edge {class}\" d=\"M {x1} {y1} C {} {y1}, {} {y2}, {x2} {y2}\" marker-end=\"url(#arrow)\"/>",
            x1 + bend,
            x2 - bend
        );
    }
    for (column, nodes) in columns.iter().enumerate() {
        let kind = COLUMNS[column].1;
        for (row, node) in nodes.iter().enumerate() {
            let (left, top) = (x(column), y(column, row));
            let shown: String = if node.label.chars().count() > LABEL_CHARS {
                node.label.chars().take(LABEL_CHARS - 1).chain(std::iter::once('…')).collect()
            } else {
                node.label.clone()
            };
            let _ = writeln!(
                out,
                "<g class=\"node {kind} {}\"><title>{}</title><rect x=\"{left}\" y=\"{top}\" width=\"{NODE_WIDTH}\" \
                 height=\"{NODE_HEIGHT}\" rx=\"{}\"/><text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text></g>",
                node.class,
                Escaped(&node.label),
                if kind == "event" { NODE_HEIGHT / 2 } else { 4 },
                left + NODE_WIDTH / 2,
                top + NODE_HEIGHT / 2 + 5,
                Escaped(shown)
            );
        }
    }
    out.push_str("</svg>\n");
    out
}

fn to_u32(count: usize) -> u32 {
    u32::try_from(count).unwrap_or(u32::MAX)
}
