__version__ = "0.0.1"

import warnings as _warnings
# fastai decorates a few functions with `torch.jit.script` while it is imported, which torch 2.14 deprecates with a
# FutureWarning; our users cannot act on it, so it is silenced here, before any of our modules imports fastai.
_warnings.filterwarnings('ignore', message=r'.*torch\.jit\.script.*deprecated', category=FutureWarning)
