"""Lesion coverage planner: electrode applications that cover each lesion plus margin, verified in 3-D."""  # noqa: E501
