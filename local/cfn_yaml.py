"""Load CloudFormation/SAM YAML, turning the short intrinsic tags (``!Ref``, ``!Sub``, ...) into
their long JSON form (``{"Ref": ...}``, ``{"Fn::Sub": ...}``) so one resolver handles both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

# Tag name -> long-form key. ``!Ref`` and ``!Condition`` are not ``Fn::`` functions.
_SHORT_TAGS = {
    "Ref": "Ref",
    "Condition": "Condition",
    **{
        name: f"Fn::{name}"
        for name in (
            "And", "Base64", "Cidr", "Equals", "FindInMap", "GetAZs", "GetAtt", "If", "ImportValue",
            "Join", "Length", "Not", "Or", "Select", "Split", "Sub", "ToJsonString", "Transform",
        )
    },
}


class CfnLoader(yaml.SafeLoader):
    """A SafeLoader that understands CloudFormation short tags."""


def _construct(loader: CfnLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    key = _SHORT_TAGS.get(tag_suffix)
    if key is None:
        raise yaml.constructor.ConstructorError(None, None, f"unknown CloudFormation tag !{tag_suffix}", node.start_mark)
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        # `!GetAtt Resource.Attribute` is the dotted short form of `[Resource, Attribute]`.
        if key == "Fn::GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {key: value}


CfnLoader.add_multi_constructor("!", _construct)


def load_template(path: str | Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        document = yaml.load(handle, Loader=CfnLoader)  # noqa: S506 - CfnLoader derives from SafeLoader
    if not isinstance(document, dict) or "Resources" not in document:
        raise ValueError(f"{path} is not a CloudFormation template (no Resources section)")
    return document
