"""Tree and diff diagrams: Mermaid text, SVG content and the tidy layout."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import networkx as nx
import numpy as np
import pytest

from ivrkit.trees.diagram import (
    DIFF_COLOURS,
    diff_graph,
    diff_to_mermaid,
    diff_to_svg,
    tree_layout,
    tree_to_mermaid,
    tree_to_svg,
)

SVG = "{http://www.w3.org/2000/svg}"


def _tree(variant: str = "old") -> nx.DiGraph:
    """Northwind Telecom before and after a menu change (the contract's example diff)."""
    G = nx.DiGraph(schema="ivrkit.tree/1", company="Northwind Telecom", number="1-800-555-0142")

    def node(path, kind, wait=None, listen_after=None, entry=None):
        G.add_node("/".join(path) or "root", path=list(path), kind=kind, prompt="", wait=wait,
                   listen_after=listen_after, entry=entry)
        if path:
            G.add_edge("/".join(path[:-1]) or "root", "/".join(path), key=path[-1], label=LABELS[tuple(path)])

    LABELS = {}
    if variant == "old":
        opts = [("1", "billing and payments", "input"), ("2", "technical support", "menu"),
                ("3", "upgrade your plan", "agent"), ("0", "all other questions", "agent")]
        root_la, root_wait, tech, entry = 7.4, 7.9, "2", "Tel#"
    else:
        opts = [("2", "billing and payments", "input"), ("1", "technical support", "menu"),
                ("3", "change your plan", "agent"), ("4", "moving or a new address", "info")]
        root_la, root_wait, tech, entry = 14.9, 15.4, "1", "ID#"
    subs = [("1", "internet service", "agent"), ("2", "television service", "agent"),
            ("3", "outage information in your area", "info"), ("9", "return to the main menu", "back"),
            ("5", "mobile", "unknown")]
    for k, label, _ in opts:
        LABELS[(k,)] = label
    for k, label, _ in subs:
        LABELS[(tech, k)] = label
    node([], "menu", wait=root_wait, listen_after=root_la)
    for k, _, kind in opts:
        node([k], kind, wait={"input": 1.2, "menu": 1.6}.get(kind), entry=entry if kind == "input" else None)
    for k, _, kind in subs:
        node([tech, k], kind)
    if variant == "old":  # a removed option with its own submenu: the whole branch goes
        G.add_node("0/1", path=["0", "1"], kind="agent", prompt="", wait=None, listen_after=None, entry=None)
        G.add_edge("0", "0/1", key="1", label="speak to an operator")
        G.nodes["0"]["kind"] = "menu"
    return G


DIFF = {
    "added": [{"path": [], "key": "4", "label": "moving or a new address"}],
    "removed": [{"path": [], "key": "0", "label": "all other questions"}],
    "moved": [{"label": "billing and payments", "from": ["1"], "to": ["2"]},
              {"label": "technical support", "from": ["2"], "to": ["1"]}],
    "relabelled": [{"path": [], "key": "3", "old": "upgrade your plan", "new": "change your plan"}],
    "entry": [{"path": ["2"], "old": "Tel#", "new": "ID#"}],
    "timing": [{"path": [], "field": "listen_after", "old": 7.4, "new": 14.9}],
    # a menu heard only in part: the diff cannot tell whether this option went away
    "unconfirmed": [{"path": ["2"], "key": "5", "label": "mobile", "change": "removed"}],
}


def _random_tree(seed: int, n: int = 40) -> nx.DiGraph:
    rng = np.random.default_rng(seed)
    G = nx.DiGraph()
    G.add_node("root", path=[], kind="menu")
    for i in range(1, n):
        parents = [p for p in G if G.out_degree(p) < 12]
        p = parents[int(rng.integers(len(parents)))]
        used = {G.edges[p, c]["key"] for c in G.successors(p)}
        key = next(k for k in "1234567890*#" if k not in used)
        cid = key if p == "root" else f"{p}/{key}"
        G.add_node(cid, path=[*G.nodes[p]["path"], key], kind="menu")
        G.add_edge(p, cid, key=key, label=f"option {i}")
    return G


# -- layout -------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_layout_leaves_evenly_spaced_parents_centred(seed):
    G = _random_tree(seed)
    pos = tree_layout(G)
    leaves = sorted(pos[n][0] for n in G if G.out_degree(n) == 0)
    assert leaves == list(range(len(leaves)))  # one slot each, no gaps, no sharing
    for n in G:
        kids = [pos[c][0] for c in G.successors(n)]
        assert pos[n][1] == len(G.nodes[n]["path"])
        if kids:
            assert pos[n][0] == pytest.approx((min(kids) + max(kids)) / 2)
    # subtrees never interleave: each subtree's leaves are one contiguous run of slots
    for n in G:
        sub = [pos[d][0] for d in nx.descendants(G, n) | {n} if G.out_degree(d) == 0]
        assert max(sub) - min(sub) == len(sub) - 1


def test_layout_children_in_keypad_order():
    pos = tree_layout(_tree("old"))
    xs = [pos[k][0] for k in ("1", "2", "3", "0")]
    assert xs == sorted(xs)  # 0 after 1-9, as on the keypad and in prompts


# -- Mermaid --------------------------------------------------------------------------

def _mermaid_nodes(text: str) -> dict[str, str]:
    """Mermaid node id -> its whole declaration line."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"\s+([A-Za-z0-9_]+)([\[\(].*)$", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def test_tree_mermaid_every_edge_key_and_shape_per_kind():
    G = _tree("old")
    text = tree_to_mermaid(G)
    assert "flowchart TD" in text
    assert 'title: "Northwind Telecom 1-800-555-0142"' in text
    edges = re.findall(r"(\w+) -->\|\"([^\"]+)\"\| (\w+)", text)
    assert len(edges) == G.number_of_edges()
    assert sorted(k for _, k, _ in edges) == sorted(a["key"] for _, _, a in G.edges(data=True))
    nodes = _mermaid_nodes(text)
    assert len(nodes) == G.number_of_nodes()
    shapes = {"menu": r'^\["', "agent": r'^\(\["', "input": r'^\[/"', "info": r'^\[\["', "back": r'^\(\("',
              "unknown": r'^\["'}
    for n, a in G.nodes(data=True):
        mid = "root" if n == "root" else "n_" + n.replace("/", "_")
        assert re.match(shapes[a["kind"]], nodes[mid]), (n, a["kind"], nodes[mid])
    assert nodes["n_2_5"].endswith(":::unknown")  # unknown drawn dashed
    assert "classDef unknown stroke-dasharray" in text
    assert "wait 7.9 s" in nodes["root"] and "wait 1.6 s" in nodes["n_2"]
    assert "billing and payments" in nodes["n_1"]
    # '#' would start a Mermaid entity: the entry Tel# must be escaped
    assert "Tel#35;" in nodes["n_1"] and "Tel#<" not in nodes["n_1"]


def test_mermaid_hash_and_star_keys_have_valid_ids():
    G = nx.DiGraph()
    G.add_node("root", path=[], kind="menu")
    for k in ("*", "#"):
        G.add_node(k, path=[k], kind="back" if k == "*" else "info")
        G.add_edge("root", k, key=k, label=f'say "{k}"')
    text = tree_to_mermaid(G)
    assert '-->|"*"| n_star' in text and '-->|"#35;"| n_hash' in text
    assert all(re.fullmatch(r"[A-Za-z0-9_]+", i) for i in _mermaid_nodes(text))
    assert "#quot;" in text  # quotes inside a label cannot end it


def test_diff_mermaid_colours_each_change():
    old, new = _tree("old"), _tree("new")
    text = diff_to_mermaid(old, new, DIFF)
    nodes = _mermaid_nodes(text)
    assert nodes["n_4"].endswith(":::added")
    assert nodes["old_n_0"].endswith(":::removed") and nodes["old_n_0_1"].endswith(":::removed")
    assert nodes["n_2"].endswith(":::moved") and "moved from 1" in nodes["n_2"]
    assert nodes["n_1"].endswith(":::moved") and "moved from 2" in nodes["n_1"]
    assert nodes["n_3"].endswith(":::relabelled") and "was: upgrade your plan" in nodes["n_3"]
    assert nodes["root"].endswith(":::changed") and "7.4 → 14.9 s" in nodes["root"]
    assert nodes["old_n_2_5"].endswith(":::unconfirmed") and "unconfirmed" in nodes["old_n_2_5"]
    assert "Tel#35; → ID#35;" in nodes["n_2"]
    assert re.search(r'root -\.->\|"0"\| old_n_0', text)  # removed edge dashed
    for cls in ("added", "removed", "moved", "relabelled", "changed"):
        assert re.search(rf"classDef {cls} .*stroke:{DIFF_COLOURS[cls]}", text)
    # linkStyle indices point at the right edges
    edges = re.findall(r"^\s+(\w+) -\.?->\|\"[^\"]+\"\| (\w+)$", text, re.M)
    styles = dict(re.findall(r"linkStyle (\d+) stroke:(#[0-9a-f]{6})", text))
    by_target = {t: styles.get(str(i)) for i, (_, t) in enumerate(edges)}
    assert by_target["n_4"] == DIFF_COLOURS["added"]
    assert by_target["old_n_0"] == DIFF_COLOURS["removed"]
    assert by_target["n_2"] == DIFF_COLOURS["moved"]
    assert by_target["n_2_1" if "n_2_1" in by_target else "n_1_1"] is None  # unchanged edge: default style


def test_diff_graph_removed_key_reused_by_a_move_does_not_clash():
    old, new = _tree("old"), _tree("new")
    # the new menu moves "technical support" onto key 0, which the old "all other questions" had
    new = nx.relabel_nodes(new, {n: n.replace("1", "0", 1) if n.startswith("1") else n for n in new})
    for n in new:
        if new.nodes[n]["path"][:1] == ["1"]:
            new.nodes[n]["path"] = ["0", *new.nodes[n]["path"][1:]]
    new.edges["root", "0"]["key"] = "0"
    d = dict(DIFF, moved=[{"label": "technical support", "from": ["2"], "to": ["0"]}])
    U = diff_graph(old, new, d)
    assert U.nodes["0"]["status"] == {"moved"} and U.nodes["old:0"]["status"] == {"removed"}
    assert U.edges["root", "old:0"]["label"] == "all other questions"
    assert U.edges["old:0", "old:0/1"]["label"] == "speak to an operator"
    assert nx.is_tree(U)


# -- SVG ------------------------------------------------------------------------------

def _svg_texts(path) -> list[str]:
    root = ET.parse(path).getroot()
    return [t.text for t in root.iter(f"{SVG}text") if t.text]


def _group_styles(path, gid: str) -> str:
    root = ET.parse(path).getroot()
    for g in root.iter(f"{SVG}g"):
        if g.get("id") == gid:
            return " ".join(e.get("style", "") for e in g.iter())
    raise AssertionError(f"no element {gid}")


def test_tree_svg_has_every_label_key_wait_and_entry(tmp_path):
    G = _tree("old")
    out = tmp_path / "tree.svg"
    tree_to_svg(G, out)
    texts = _svg_texts(out)
    for u, v, a in G.edges(data=True):
        # the label's words, wrapped over consecutive lines of its node
        assert f" {a['label']} " in f" {' '.join(texts)} ", a["label"]
        assert a["key"] in texts
        _group_styles(out, "key-n_" + v.replace("/", "_"))  # each edge has its key disc
    assert "wait 7.9 s" in texts and "wait 1.6 s" in texts
    assert "input · keys Tel#" in texts
    assert "Northwind Telecom 1-800-555-0142" in texts
    # the unknown option is dashed, a plain menu is not
    assert "stroke-dasharray" in _group_styles(out, "node-n_2_5")
    assert "stroke-dasharray" not in _group_styles(out, "node-n_2")
    assert list(tmp_path.iterdir()) == [out]  # no temp file left behind


def test_diff_svg_colours_changed_items(tmp_path):
    old, new = _tree("old"), _tree("new")
    out = tmp_path / "diff.svg"
    diff_to_svg(old, new, DIFF, out)
    texts = _svg_texts(out)
    assert "all other questions" in texts and "speak to an operator" in texts  # removed branch shown
    assert "moving or a new address" in texts
    assert "was: upgrade your plan" in texts
    assert any("7.4 → 14.9 s" in t for t in texts)
    assert any("Tel# → ID#" in t for t in texts)

    def stroke(gid):
        return _group_styles(out, gid).lower()

    assert DIFF_COLOURS["added"] in stroke("node-n_4")
    assert DIFF_COLOURS["removed"] in stroke("node-old_n_0") and "stroke-dasharray" in stroke("node-old_n_0")
    assert DIFF_COLOURS["moved"] in stroke("node-n_1") and DIFF_COLOURS["moved"] in stroke("node-n_2")
    assert DIFF_COLOURS["relabelled"] in stroke("node-n_3")
    assert DIFF_COLOURS["changed"] in stroke("node-root")
    assert not any(c in stroke("node-n_1_2") for c in DIFF_COLOURS.values())  # unchanged stays plain
    assert DIFF_COLOURS["unconfirmed"] in stroke("node-old_n_2_5") and "stroke-dasharray" in stroke("node-old_n_2_5")
    assert "? removed, unconfirmed" in texts


def test_diff_png_shows_each_colour_and_tree_png_none(tmp_path):
    import matplotlib.image as mpimg

    old, new = _tree("old"), _tree("new")
    diff_to_svg(old, new, DIFF, tmp_path / "diff.png")
    tree_to_svg(new, tmp_path / "tree.png")
    diff_img = mpimg.imread(tmp_path / "diff.png")[..., :3]
    tree_img = mpimg.imread(tmp_path / "tree.png")[..., :3]

    def count(img, hex_colour):
        rgb = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)]) / 255
        return int((np.abs(img - rgb).max(axis=-1) < 0.06).sum())

    for s, c in DIFF_COLOURS.items():
        assert count(diff_img, c) > 150, s
        assert count(tree_img, c) < 20, s
    assert diff_img.shape[1] > diff_img.shape[0]  # a wide tree is drawn wide


def test_svg_into_missing_folder_raises_and_writes_nothing(tmp_path):
    with pytest.raises(OSError):
        tree_to_svg(_tree("old"), tmp_path / "nope" / "tree.svg")
    assert list(tmp_path.iterdir()) == []


def test_removed_option_hangs_under_its_menus_new_place():
    old, new = _tree("old"), _tree("new")
    # "mobile" (2/5 in the old tree) is gone, and its menu, technical support, moved 2 -> 1
    new.remove_node("1/5")
    d = dict(DIFF, removed=[*DIFF["removed"], {"path": ["2"], "key": "5", "label": "mobile"}], unconfirmed=[])
    U = diff_graph(old, new, d)
    assert list(U.predecessors("old:2/5")) == ["1"]
    assert U.nodes["old:2/5"]["status"] == {"removed"}


@pytest.mark.parametrize("picture", ["tree", "diff"])
def test_node_text_sits_inside_its_shape(tmp_path, picture):
    """Every line of a node's text, as rendered, is inside the node's shape (the
    ellipse of a back node included: "return to the main menu" once touched it)."""
    import networkx as nx
    from matplotlib.patches import Ellipse

    from ivrkit.trees import diagram

    G = _tree("old")
    captured = {}
    real_save = diagram._save_atomic
    diagram._save_atomic = lambda fig, path: captured.setdefault("fig", fig)
    try:
        if picture == "tree":
            diagram.tree_to_svg(G, tmp_path / "t.svg")
        else:  # the diff adds note lines ("moved from 9") to the shapes
            from ivrkit.trees.diff import diff_trees

            new = _tree("old")
            nx.relabel_nodes(new, {"2/9": "2/8"}, copy=False)
            new.nodes["2/8"]["path"] = ["2", "8"]
            new.edges["2", "2/8"]["key"] = "8"
            diagram.diff_to_svg(G, new, diff_trees(G, new), tmp_path / "t.svg")
    finally:
        diagram._save_atomic = real_save
    fig = captured["fig"]
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    ax = fig.axes[0]
    patches = {p.get_gid(): p for p in ax.patches if p.get_gid()}
    checked = ellipses = 0
    for t in ax.texts:
        gid = t.get_gid() or ""
        if not gid.startswith("text-"):
            continue
        patch = patches["node-" + gid[5:]]
        box = t.get_window_extent(r)
        corners = [(x, y) for x in (box.x0, box.x1) for y in (box.y0, box.y1)]
        if isinstance(patch, Ellipse):
            # in the ellipse's own unit-circle coordinates: corners well inside, not on the rim
            # (the old fixed-size ellipse put "return to the main menu" at 0.91)
            to_unit = (patch.get_patch_transform() + ax.transData).inverted()
            assert max(float((to_unit.transform(c) ** 2).sum()) for c in corners) <= 0.8, t.get_text()
            ellipses += 1
        else:
            path = patch.get_path().transformed(patch.get_patch_transform() + ax.transData)
            assert all(path.contains_point(c) for c in corners), (t.get_text(), gid)
        checked += 1
    assert checked >= G.number_of_nodes() - 1 and ellipses >= 1
    assert any(G.nodes[n].get("kind") == "back" for n in G) and nx.is_tree(G.to_undirected())
