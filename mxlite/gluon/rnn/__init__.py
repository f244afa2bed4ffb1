"""``gluon.rnn``: recurrent cells and multi-layer RNN/LSTM/GRU layers."""
from .rnn_cell import RNNCell, LSTMCell, GRUCell  # noqa: F401
from .rnn_layer import RNN, LSTM, GRU  # noqa: F401
