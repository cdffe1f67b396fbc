from source_node.intake import *  # noqa
from source_node.intake import LoadedTable, load_table  # noqa
