"""Entry points (python -m experiments.<name>). Importing nnscratch.compose registers the resolvers
their configs use (${nnscratch.or:...}, ${nnscratch.groups:...})."""

import nnscratch.compose  # noqa: F401
