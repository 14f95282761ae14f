//! Consul-shaped tables: columns separated by two spaces, last column unpadded.

/// Format rows (first row = header) as Consul's `columnize` does.
pub fn columns(rows: &[Vec<String>]) -> String {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; n];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(c);
            } else {
                line.push_str(c);
                line.push_str(&" ".repeat(widths[i] - c.chars().count() + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn two_space_columns() {
        let t = super::columns(&[
            vec!["Node".into(), "ID".into()],
            vec!["node1".into(), "x".into()],
        ]);
        assert_eq!(t, "Node   ID\nnode1  x\n");
    }
}
