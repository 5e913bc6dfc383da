#!/usr/bin/env python3
"""Validates a STIX 2.1 bundle against the OASIS STIX 2.1 JSON schemas.

Usage: stix_validate.py BUNDLE.json

The schemas (cti-stix2-json-schemas, its schemas/ folder) are looked for in
$STIX_SCHEMAS, else in ../shared/data/stix2-json-schemas beside the
repository. The bundle is checked against common/bundle.json and each
object against its own type's schema; then a few rules the schemas cannot
state: ids unique, every *_ref/*_refs points at an object in the bundle
(the TLP 2.0 marking definitions must travel with it), a TLP 2.0 marking
is the published one, spec_version 2.1 on every SDO/SRO, first_seen <=
last_seen, modified >= created. The schemas' bundle.json forgets some
SDOs (note, opinion, ...): they are added to its list (see patch_bundle).

Exit 0 valid, 1 invalid (the errors are printed), 2 usage, 77 when the
schemas or python3-jsonschema are absent (the test is then skipped).
"""
import json
import os
import re
import sys

SKIP = 77

TYPE_SCHEMA = {
    "bundle": "common/bundle.json",
    "marking-definition": "common/marking-definition.json",
    "identity": "sdos/identity.json",
    "indicator": "sdos/indicator.json",
    "vulnerability": "sdos/vulnerability.json",
    "opinion": "sdos/opinion.json",
    "note": "sdos/note.json",
    "sighting": "sros/sighting.json",
    "relationship": "sros/relationship.json",
    "report": "sdos/report.json",
    "observed-data": "sdos/observed-data.json",
    "grouping": "sdos/grouping.json",
    "location": "sdos/location.json",
    "incident": "sdos/incident.json",
}

# TLP 2.0 (extension-definition--60a3c5c5-...): id -> (name, tlp_2_0)
TLP2_EXT = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
TLP2 = {
    "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487": ("TLP:CLEAR", "clear"),
    "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb": ("TLP:GREEN", "green"),
    "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421": ("TLP:AMBER", "amber"),
    "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003": (
        "TLP:AMBER+STRICT",
        "amber+strict",
    ),
    "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1": ("TLP:RED", "red"),
}
TLP2_CREATED = "2022-10-01T00:00:00.000Z"


def schemas_dir():
    env = os.environ.get("STIX_SCHEMAS")
    if env:
        cands = [env, os.path.join(env, "schemas")]
    else:
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        base = os.path.join(os.path.dirname(root), "shared", "data", "stix2-json-schemas")
        cands = [os.path.join(base, "schemas"), base]
    for c in cands:
        if os.path.isfile(os.path.join(c, "common", "bundle.json")):
            return c
    return None


def load_schemas(d):
    """Every schema file, keyed by its $id and by its file:// URI."""
    store = {}
    by_rel = {}
    for top, _, files in os.walk(d):
        for f in files:
            if not f.endswith(".json"):
                continue
            path = os.path.join(top, f)
            with open(path, encoding="utf-8") as fh:
                s = json.load(fh)
            rel = os.path.relpath(path, d).replace(os.sep, "/")
            by_rel[rel] = s
            store["file://" + os.path.abspath(path)] = s
            if "$id" in s:
                store[s["$id"]] = s
    return store, by_rel


def patch_bundle(by_rel):
    """Lists in common/bundle.json the SDOs and SROs it forgets.

    The schemas' bundle.json lists some object types by $ref and accepts
    anything else only as a custom object, which must match exactly one
    of core.json and cyber-observable-core.json. A real note or opinion
    matches both, so a bundle that carries one fails although the object
    itself is valid. Every sdos/ and sros/ schema that bundle.json does
    not list is added to its list (and to the types a custom object may
    not use). Returns the types added.
    """
    added = []
    try:
        any_of = by_rel["common/bundle.json"]["properties"]["objects"]["items"]["anyOf"]
        listed = any_of[0]["oneOf"]
        custom = any_of[1]["allOf"][1]["properties"]["type"]["not"]["enum"]
    except (KeyError, IndexError, TypeError):
        return added
    refs = {x.get("$ref") for x in listed}
    for rel in sorted(by_rel):
        if not rel.startswith(("sdos/", "sros/")) or "../" + rel in refs:
            continue
        t = rel.split("/", 1)[1][: -len(".json")]
        listed.append({"$ref": "../" + rel})
        if t not in custom:
            custom.append(t)
        added.append(t)
    return added


def make_validators(jsonschema, store, by_rel):
    """rel path -> a function(instance) -> list of error strings."""

    def no_fetch(uri):
        raise LookupError("schema not available offline: %s" % uri)

    try:  # jsonschema >= 4.18
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012

        registry = Registry().with_resources(
            (uri, Resource.from_contents(s, default_specification=DRAFT202012))
            for uri, s in store.items()
        )
    except ImportError:  # Debian 12: 4.10, RefResolver
        registry = None

    cache = {}

    def get(rel):
        if rel in cache:
            return cache[rel]
        schema = by_rel[rel]
        cls = jsonschema.validators.validator_for(schema)
        if registry is not None:
            v = cls(schema, registry=registry)
        else:
            resolver = jsonschema.RefResolver(
                base_uri=schema.get("$id", ""),
                referrer=schema,
                store=store,
                handlers={"http": no_fetch, "https": no_fetch},
            )
            v = cls(schema, resolver=resolver)

        def check(inst, v=v):
            """[(path, text)] for every error, path a list."""
            out = []
            for e in sorted(v.iter_errors(inst), key=lambda e: [str(p) for p in e.path]):
                path = list(e.absolute_path)
                text = "%s: %s" % ("/".join(str(p) for p in path) or "(top)", e.message[:300])
                # a oneOf/anyOf failure says little; show what was closest
                for c in (e.context or [])[:6]:
                    cw = "/".join(str(p) for p in c.absolute_path) or "(top)"
                    text += "\n    - %s: %s" % (cw, c.message[:200])
                out.append((path, text))
            return out

        cache[rel] = check
        return check

    return get


def refs_of(obj):
    """(property, id) for every *_ref and *_refs value in obj, deep."""
    out = []

    def walk(o):
        if isinstance(o, dict):
            for k, v in o.items():
                if k.endswith("_ref") and isinstance(v, str):
                    out.append((k, v))
                elif k.endswith("_refs") and isinstance(v, list):
                    out.extend((k, x) for x in v if isinstance(x, str))
                else:
                    walk(v)
        elif isinstance(o, list):
            for x in o:
                walk(x)

    walk(obj)
    return out


def pattern_problem(p):
    """A light check of STIX patterning: brackets balanced outside string
    literals, every literal closed, every observation a comparison
    'type:path OP value'. None when it looks well-formed."""
    if not p.startswith("["):
        return "does not start with ["
    depth, i, n = 0, 0, len(p)
    while i < n:
        c = p[i]
        if c == "'":
            i += 1
            while i < n and p[i] != "'":
                i += 2 if p[i] == "\\" else 1
            if i >= n:
                return "unterminated string literal"
        elif c in "[(":
            depth += 1
        elif c in "])":
            depth -= 1
            if depth < 0:
                return "unbalanced brackets"
        i += 1
    if depth:
        return "unbalanced brackets"
    obj = re.compile(r"\[\s*[a-z0-9-]+:[A-Za-z0-9_.'\[\]*-]+\s+(=|!=|<|>|<=|>=|IN|LIKE|MATCHES|ISSUBSET|ISSUPERSET)\s")
    if not obj.match(p):
        return "not an observation expression [type:path OP value]"
    return None


def semantic_checks(bundle):
    errs = []
    objs = bundle.get("objects") or []
    ids = {}
    for i, o in enumerate(objs):
        if not isinstance(o, dict):
            errs.append("objects/%d: not an object" % i)
            continue
        oid = o.get("id")
        if oid in ids:
            errs.append("objects/%d: id %s used twice" % (i, oid))
        ids[oid] = o
    for i, o in enumerate(objs):
        if not isinstance(o, dict):
            continue
        t = o.get("type")
        if t != "marking-definition" and o.get("spec_version") != "2.1":
            errs.append("objects/%d (%s): spec_version is not 2.1" % (i, t))
        for k, ref in refs_of(o):
            if ref not in ids:
                errs.append("objects/%d (%s): %s %s is not in the bundle" % (i, t, k, ref))
        for ref in o.get("object_marking_refs") or []:
            if ref in ids and ids[ref].get("type") != "marking-definition":
                errs.append("objects/%d: object_marking_refs %s is not a marking" % (i, ref))
        if o.get("created") and o.get("modified") and o["modified"] < o["created"]:
            errs.append("objects/%d (%s): modified before created" % (i, t))
        if o.get("first_seen") and o.get("last_seen") and o["last_seen"] < o["first_seen"]:
            errs.append("objects/%d (%s): last_seen before first_seen" % (i, t))
        if t == "indicator" and o.get("pattern_type") == "stix":
            why = pattern_problem(o.get("pattern", ""))
            if why:
                errs.append("objects/%d (indicator): pattern %r: %s" % (i, o.get("pattern"), why))
        if t == "marking-definition" and TLP2_EXT in (o.get("extensions") or {}):
            ext = o["extensions"][TLP2_EXT]
            want = TLP2.get(o.get("id"))
            if want is None:
                errs.append("objects/%d: %s is not a published TLP 2.0 marking" % (i, o.get("id")))
            elif (
                o.get("name") != want[0]
                or ext.get("tlp_2_0") != want[1]
                or ext.get("extension_type") != "property-extension"
                or o.get("created") != TLP2_CREATED
                or set(ext) != {"extension_type", "tlp_2_0"}
            ):
                errs.append("objects/%d: TLP 2.0 marking %s differs from the published one" % (i, o.get("id")))
    return errs


def main(argv):
    if len(argv) != 2:
        print("usage: stix_validate.py BUNDLE.json", file=sys.stderr)
        return 2
    try:
        import jsonschema
    except ImportError:
        print("stix_validate: python3-jsonschema is not installed: skipped")
        return SKIP
    d = schemas_dir()
    if d is None:
        print("stix_validate: no STIX 2.1 schemas ($STIX_SCHEMAS or "
              "../shared/data/stix2-json-schemas): skipped")
        return SKIP
    if not hasattr(jsonschema.validators, "validator_for") or not hasattr(
        jsonschema, "Draft202012Validator"
    ):
        print("stix_validate: jsonschema too old for draft 2020-12: skipped")
        return SKIP
    try:
        with open(argv[1], encoding="utf-8") as fh:
            bundle = json.load(fh)
    except (OSError, ValueError) as e:
        print("stix_validate: %s: %s" % (argv[1], e))
        return 1
    store, by_rel = load_schemas(d)
    patched = patch_bundle(by_rel)
    get = make_validators(jsonschema, store, by_rel)

    berrs = get(TYPE_SCHEMA["bundle"])(bundle)
    errs = []
    if not isinstance(bundle, dict) or bundle.get("type") != "bundle":
        errs.append("bundle: not a STIX bundle")
        bundle = {}
    counts = {}
    bad = set()  # objects with errors of their own
    for i, o in enumerate(bundle.get("objects") or []):
        t = o.get("type") if isinstance(o, dict) else None
        counts[t] = counts.get(t, 0) + 1
        rel = TYPE_SCHEMA.get(t)
        if rel is None:
            errs.append("objects/%d: no schema for type %r" % (i, t))
            continue
        oerrs = get(rel)(o)
        if oerrs:
            bad.add(i)
        errs.extend("objects/%d (%s %s): %s" % (i, t, o.get("id"), e) for _, e in oerrs)
    # the bundle's own complaint about an object already reported is noise
    errs[:0] = [
        "bundle: " + e
        for p, e in berrs
        if not (len(p) >= 2 and p[0] == "objects" and p[1] in bad)
    ]
    errs.extend(semantic_checks(bundle))
    if errs:
        print("stix_validate: %s: INVALID" % argv[1])
        for e in errs:
            print("  " + e)
        return 1
    summary = ", ".join("%d %s" % (n, t) for t, n in sorted(counts.items(), key=lambda x: str(x[0])))
    print("stix_validate: %s: valid STIX 2.1 (%s)" % (argv[1], summary))
    if patched:
        print("stix_validate: (common/bundle.json did not list %s; added)" % ", ".join(patched))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
