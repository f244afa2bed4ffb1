"""``gluon.rnn``: recurrent cells, convolutional cells and multi-layer RNN/LSTM/GRU layers."""
from .rnn_cell import *  # noqa: F401,F403
from .conv_rnn_cell import *  # noqa: F401,F403
from .rnn_layer import RNN, LSTM, GRU  # noqa: F401
