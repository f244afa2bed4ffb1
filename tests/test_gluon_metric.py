"""gluon.metric against the values MXNet 2.x documents (python/mxnet/gluon/metric.py
docstrings) and hand computations."""
import math

import numpy as np
import pytest

import mxlite as mx
from mxlite.gluon import metric

PROBS = [mx.np.array([[0.3, 0.7], [0, 1.], [0.4, 0.6]])]
LABELS = [mx.np.array([0, 1, 1])]


def _value(m, labels, preds):
    m.update(labels, preds)
    return m.get()[1]


def test_documented_classification_values():
    assert _value(metric.Accuracy(), LABELS, PROBS) == pytest.approx(2 / 3)
    assert _value(metric.F1(), [mx.np.array([0., 1., 1.])], PROBS) == pytest.approx(0.8)
    assert _value(metric.Fbeta(beta=2), [mx.np.array([0., 1., 1.])], PROBS) == \
        pytest.approx(0.9090909090909091)
    assert _value(metric.BinaryAccuracy(threshold=0.6), [mx.np.array([0., 1., 0.])],
                  [mx.np.array([0.7, 1, 0.55])]) == pytest.approx(2 / 3)
    composite = metric.CompositeEvalMetric([metric.Accuracy(), metric.F1()])
    composite.update(LABELS, PROBS)
    names, values = composite.get()
    assert names == ["accuracy", "f1"] and values == pytest.approx([2 / 3, 0.8])


def test_top_k_accuracy_documented_value():
    np.random.seed(999)
    labels = [mx.np.array([2, 6, 9, 2, 3, 4, 7, 8, 9, 6])]
    preds = [mx.np.array(np.random.rand(10, 10))]
    acc = metric.TopKAccuracy(top_k=3)
    assert _value(acc, labels, preds) == pytest.approx(0.3)
    assert acc.name == "top_k_accuracy_3"


def _mostly_positive():
    fp, tn, fn, tp = 1000, 1, 1, 10000
    preds = [mx.np.array([[.3, .7]] * fp + [[.7, .3]] * tn + [[.7, .3]] * fn + [[.3, .7]] * tp)]
    labels = [mx.np.array([0.] * (fp + tn) + [1.] * (fn + tp))]
    return labels, preds


def test_mcc_pcc_and_f1_documented_values():
    labels, preds = _mostly_positive()
    assert _value(metric.F1(), labels, preds) == pytest.approx(0.95233560306652054)
    assert _value(metric.MCC(), labels, preds) == pytest.approx(0.01917751877733392)
    assert _value(metric.PCC(), labels, preds) == pytest.approx(0.01917751877733392)


def test_pcc_multiclass_grows_and_matches_hand_value():
    pcc = metric.PCC()
    pcc.update([mx.np.array([0, 1, 2, 2])], [mx.np.array([0, 1, 2, 1])])
    # confusion C[pred, label]: diag 1,1,1; C[1,2] = 1; n = 4
    c = np.array([[1, 0, 0], [0, 1, 1], [0, 0, 1]], dtype=float)
    n, x, y = c.sum(), c.sum(1), c.sum(0)
    expected = (np.trace(c) * n - x @ y) / math.sqrt((x * (n - x)).sum() * (y * (n - y)).sum())
    assert pcc.get()[1] == pytest.approx(expected)
    assert pcc.confusion.shape == (3, 3)
    assert math.isnan(_value(metric.PCC(), [mx.np.array([1, 1])], [mx.np.array([1, 1])]))


def test_f1_averages_and_class_types():
    # multiclass: per-class tp/fp/fn from argmax
    labels = mx.np.array([0, 1, 2, 2])
    preds = mx.np.array([[.9, .1, 0], [.2, .7, .1], [.1, .8, .1], [0, .1, .9]])
    per_class = np.array([1.0, 2 / 3, 2 / 3])
    macro = metric.F1(class_type="multiclass", average="macro")
    assert _value(macro, labels, preds) == pytest.approx(per_class.mean())
    micro = metric.F1(class_type="multiclass", average="micro")
    assert _value(micro, labels, preds) == pytest.approx(0.75)  # tp 3, fp 1, fn 1
    each = metric.F1(class_type="multiclass", average=None)
    each.update(labels, preds)
    np.testing.assert_allclose(each.get()[1], per_class)
    multilabel = metric.F1(class_type="multilabel")
    assert _value(multilabel, mx.np.array([[1, 0], [1, 1]]),
                  mx.np.array([[0.9, 0.6], [0.2, 0.7]])) == pytest.approx(2 / 3)
    # micro pools counts across updates: the same as one update with all samples
    pooled = metric.F1()
    pooled.update([mx.np.array([1, 0])], [mx.np.array([0.9, 0.8])])
    pooled.update([mx.np.array([1, 1])], [mx.np.array([0.1, 0.7])])
    whole = metric.F1()
    whole.update([mx.np.array([1, 0, 1, 1])], [mx.np.array([0.9, 0.8, 0.1, 0.7])])
    assert pooled.get() == whole.get()
    with pytest.raises(ValueError, match="binary"):
        metric.F1().update([mx.np.array([0, 2])], [mx.np.array([0.1, 0.9])])
    with pytest.raises(ValueError, match="class_type"):
        metric.F1(class_type="bogus")


def test_documented_regression_values():
    preds = [mx.np.array([3, -0.5, 2, 7])]
    labels = [mx.np.array([2.5, 0.0, 2, 8])]
    assert _value(metric.MAE(), labels, preds) == pytest.approx(0.5)
    assert _value(metric.MSE(), labels, preds) == pytest.approx(0.375)
    assert _value(metric.RMSE(), labels, preds) == pytest.approx(0.612372457981)
    assert _value(metric.MeanPairwiseDistance(), [mx.np.array([[1., 0.], [4., 2.]])],
                  [mx.np.array([[1., 2.], [3., 4.]])]) == pytest.approx(2.1180338859558105)
    assert _value(metric.MeanPairwiseDistance(p=1), [mx.np.array([[1., 0.], [4., 2.]])],
                  [mx.np.array([[1., 2.], [3., 4.]])]) == pytest.approx(2.5)
    assert _value(metric.MeanCosineSimilarity(), [mx.np.array([[3., 4.], [2., 2.]])],
                  [mx.np.array([[1., 0.], [1., 1.]])]) == pytest.approx(0.8)


def test_documented_likelihood_values():
    assert _value(metric.CrossEntropy(), LABELS, PROBS) == pytest.approx(0.57159948348999023)
    assert _value(metric.NegativeLogLikelihood(), LABELS, PROBS) == \
        pytest.approx(0.57159948348999023)
    assert _value(metric.Perplexity(ignore_label=None), LABELS, PROBS) == \
        pytest.approx(1.7710976285155853)
    # ignore_label drops the sample from both the sum and the count
    ppl = metric.Perplexity(ignore_label=1)
    assert _value(ppl, LABELS, PROBS) == pytest.approx(1 / 0.3)
    logits = np.log(np.array([[0.3, 0.7], [0.5, 0.5]]))
    ce = metric.CrossEntropy(from_logits=True)
    assert _value(ce, mx.np.array([0, 1]), mx.np.array(logits)) == \
        pytest.approx(-(math.log(0.3) + math.log(0.5)) / 2)
    # class axis 1 of (N, C, T) scores
    scores = np.random.RandomState(0).dirichlet([1, 1, 1], size=(2, 4)).transpose(0, 2, 1)
    label = np.array([[0, 1, 2, 1], [2, 2, 0, 1]])
    ce_axis = metric.CrossEntropy(axis=1)
    expected = -np.log(np.take_along_axis(scores, label[:, None], axis=1)).mean()
    assert _value(ce_axis, mx.np.array(label), mx.np.array(scores)) == pytest.approx(expected)


def test_pearson_correlation_documented_and_split_invariant():
    pr = metric.PearsonCorrelation()
    assert _value(pr, [mx.np.array([[1, 0], [0, 1], [0, 1]])], PROBS) == \
        pytest.approx(0.42163704544016178)
    rng = np.random.RandomState(1)
    x, y = rng.randn(50), rng.randn(50)
    split = metric.PearsonCorrelation()
    for part in (slice(0, 7), slice(7, 30), slice(30, 50)):
        split.update(mx.np.array(x[part]), mx.np.array(y[part]))
    assert split.get()[1] == pytest.approx(np.corrcoef(x, y)[0, 1])
    assert metric.create("pearsonr").name == "pearsonr"


def test_loss_torch_custom_and_np():
    loss = metric.Loss()
    loss.update(None, [mx.np.array([1.0, 3.0]), mx.np.array([5.0])])
    assert loss.get() == ("loss", 3.0)
    assert metric.Torch().name == "torch"
    custom = metric.CustomMetric(lambda x, y: (x + y).mean())
    custom.update([mx.np.array(np.array([2.5, 0.0, 2, 8]).reshape(4, 1))],
                  [mx.np.array(np.array([3, -0.5, 2, 7]).reshape(4, 1))])
    assert custom.get() == ("custom(<lambda>)", 6.0)

    def pairs(label, pred):
        assert isinstance(label, np.ndarray) and isinstance(pred, np.ndarray)
        return float((label == pred).sum()), label.size
    counted = metric.np(pairs)
    counted.update([mx.np.array([1, 2, 3])], [mx.np.array([1, 0, 3])])
    assert counted.get() == ("pairs", 2 / 3)
    extra = metric.CustomMetric(lambda x, y: 1.0, allow_extra_outputs=True)
    extra.update([mx.np.array([1])], [mx.np.array([1]), mx.np.array([5])])
    assert extra.get()[1] == 1.0
    with pytest.raises(ValueError, match="does not match"):
        metric.CustomMetric(lambda x, y: 1.0).update([mx.np.array([1])],
                                                     [mx.np.array([1]), mx.np.array([5])])
    with pytest.raises(NotImplementedError, match="serialized"):
        custom.get_config()


def test_create_by_name_callable_and_list():
    for name, klass in [("acc", metric.Accuracy), ("accuracy", metric.Accuracy),
                        ("top_k_acc", metric.TopKAccuracy), ("f1", metric.F1),
                        ("mcc", metric.MCC), ("pcc", metric.PCC), ("ce", metric.CrossEntropy),
                        ("nll_loss", metric.NegativeLogLikelihood), ("rmse", metric.RMSE),
                        ("perplexity", metric.Perplexity), ("loss", metric.Loss),
                        ("MSE", metric.MSE), ("composite", metric.CompositeEvalMetric)]:
        assert type(metric.create(name)) is klass
    assert metric.create("top_k_accuracy", top_k=5).top_k == 5
    acc = metric.Accuracy()
    assert metric.create(acc) is acc

    def my_mae(label, pred):
        return np.abs(label - pred).mean()
    composite = metric.create([acc, my_mae, "rmse"])
    assert isinstance(composite, metric.CompositeEvalMetric)
    composite.update([mx.np.array([1.0, 2.0])], [mx.np.array([1.0, 4.0])])
    assert composite.get_name_value() == [("accuracy", 0.5), ("my_mae", 1.0),
                                          ("rmse", pytest.approx(math.sqrt(2)))]
    with pytest.raises(ValueError, match="acc"):
        metric.create("no-such-metric")
    with pytest.raises(IndexError, match="out of range"):
        composite.get_metric(7)


def test_reset_update_dict_and_config():
    acc = metric.Accuracy()
    acc.update(LABELS, PROBS)
    acc.reset()
    assert math.isnan(acc.get()[1]) and acc.num_inst == 0
    f1 = metric.F1()
    f1.update(LABELS, PROBS)
    f1.reset()
    assert math.isnan(f1.get()[1]) and f1.counts.total == 0
    named = metric.Accuracy(output_names=["out"], label_names=["y"])
    named.update_dict({"y": LABELS[0], "other": mx.np.array([5])},
                      {"out": PROBS[0], "aux": mx.np.array([1.0])})
    assert named.get()[1] == pytest.approx(2 / 3)
    config = metric.create("acc", axis=0).get_config()
    assert config["metric"] == "Accuracy" and config["axis"] == 0
    rebuilt = metric.create(**{k: v for k, v in config.items()})
    assert isinstance(rebuilt, metric.Accuracy) and rebuilt.axis == 0
    assert str(metric.MAE()) == "EvalMetric: {'mae': nan}"
    with pytest.raises(ValueError, match="Shape of labels 2 does not match"):
        metric.Accuracy().update([mx.np.array([1]), mx.np.array([1])], [mx.np.array([1])])


@pytest.mark.parametrize("metric_args", [("acc", {"axis": 0}), ("f1", {}), ("mcc", {}),
                                         ("perplexity", {"ignore_label": 0}), ("pearsonr", {}),
                                         ("pcc", {}), ("nll_loss", {}), ("loss", {}),
                                         (["acc", "f1"], {}),
                                         ("f1", {"class_type": "multiclass",
                                                 "average": "macro"})])
def test_config_round_trips_through_json(metric_args):
    import json
    name, kwargs = metric_args
    m = metric.create(name, **kwargs)
    again = metric.create(json.dumps(m.get_config()))
    assert type(again) is type(m) and again.get_config() == m.get_config()


def test_mxnet_unit_test_f1_cases():
    """MXNet's test_binary_f1 / test_multiclass_f1 / test_multilabel_f1 values."""
    micro, macro = metric.create("f1", average="micro"), metric.F1(average="macro")
    assert math.isnan(micro.get()[1]) and math.isnan(macro.get()[1])
    for m in (micro, macro):
        m.update([mx.np.array([0, 0])], [mx.np.array([[0.9, 0.1], [0.8, 0.2]])])
        assert m.get()[1] == 0.0
        m.reset()
        m.update([mx.np.array([1, 0]), mx.np.array([1, 0])],
                 [mx.np.array([[0.1, 0.9], [0.5, 0.5]]), mx.np.array([[0.85, 0.15], [1., 0.]])])
        assert m.num_inst == 4 and m.get()[1] == pytest.approx(2 / 3)
        m.update([mx.np.array([0]), mx.np.array([1])],
                 [mx.np.array([[0.6, 0.4]]), mx.np.array([[0.2, 0.8]])])
        assert m.num_inst == 6 and m.get()[1] == pytest.approx(4 / 5)

    micro = metric.create("f1", class_type="multiclass", average="micro")
    macro = metric.F1(class_type="multiclass", average="macro")
    for m, one_class in ((micro, 1.0), (macro, 0.5)):
        m.update([mx.np.array([0, 0])], [mx.np.array([[0.9, 0.1], [0.8, 0.2]])])
        assert m.get()[1] == one_class
        m.reset()
        m.update([mx.np.array([0, 2]), mx.np.array([1, 0, 0, 1])],
                 [mx.np.array([[1, 0, 0], [0, 1, 0]]),
                  mx.np.array([[0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]])])
        assert m.num_inst == 6
    assert micro.get()[1] == pytest.approx(2 / 6)       # sklearn f1_score(average='micro')
    assert macro.get()[1] == pytest.approx(0.8 / 3)     # sklearn f1_score(average='macro')

    micro = metric.create("f1", class_type="multilabel", average="micro")
    macro = metric.F1(class_type="multilabel", average="macro")
    for m, one_class in ((micro, 2 / 3), (macro, 0.5)):
        m.update([mx.np.array([[1, 1], [1, 1]])], [mx.np.array([[0.9, 0.1], [0.8, 0.2]])])
        assert m.get()[1] == pytest.approx(one_class)
        m.reset()
        m.update([mx.np.array([[1, 0, 1], [0, 0, 1]]), mx.np.array([[0, 1, 1]])],
                 [mx.np.array([[0.9, 0.4, 0.3], [0.2, 0.7, 0.8]]),
                  mx.np.array([[0.6, 0.6, 0.7]])])
        assert m.num_inst == 3
    assert micro.get()[1] == pytest.approx(8 / 11)
    assert macro.get()[1] == pytest.approx((2 / 3 + 2 / 3 + 0.8) / 3)


def test_mxnet_unit_test_mcc_and_pcc_cases():
    mcc = metric.create("mcc")
    assert math.isnan(mcc.get()[1])
    mcc.update([mx.np.array([1, 0]), mx.np.array([1, 0])],
               [mx.np.array([[0.1, 0.9], [0.5, 0.5]]), mx.np.array([[0.85, 0.15], [1., 0.]])])
    assert mcc.num_inst == 4
    assert mcc.get()[1] == pytest.approx((1 * 2 - 0) / math.sqrt(1 * 2 * 2 * 3))
    mcc.update([mx.np.array([0]), mx.np.array([1])],
               [mx.np.array([[0.6, 0.4]]), mx.np.array([[0.2, 0.8]])])
    assert mcc.get()[1] == pytest.approx((2 * 3 - 0) / math.sqrt(2 * 3 * 3 * 4))

    def confusion_batch(cm):
        labels, preds = [], []
        for i, row in enumerate(cm):
            for j, count in enumerate(row):
                labels += [i] * count
                preds += [np.eye(len(cm))[j]] * count
        return [mx.np.array(labels, dtype="int32")], [mx.np.array(np.array(preds))]

    labels, preds = confusion_batch([[7, 3], [2, 5]])
    pcc, mcc, pear = metric.create("pcc"), metric.create("mcc"), metric.create("pearsonr")
    pcc.update(labels, preds)
    mcc.update(labels, preds)
    pear.update(labels, [p.argmax(axis=1) for p in preds])
    assert pcc.get()[1] == pytest.approx(mcc.get()[1]) == pytest.approx(pear.get()[1])
    cm = [[23, 13, 3], [7, 19, 11], [2, 5, 17]]
    k = range(3)
    ref = sum(cm[a][a] * cm[b][c] - cm[a][b] * cm[c][a] for a in k for b in k for c in k) / (
        sum(sum(cm[a]) * sum(sum(cm[f]) for f in k if f != a) for a in k)
        * sum(sum(cm[r][a] for r in k) * sum(cm[r][g] for r in k for g in k if g != a)
              for a in k)) ** 0.5
    labels, preds = confusion_batch(cm)
    pcc.reset()
    pcc.update(labels, preds)
    assert pcc.get()[1] == pytest.approx(ref)
    one_by_one = metric.PCC()
    for label, pred in reversed(list(zip(labels[0].asnumpy(), preds[0].asnumpy()))):
        one_by_one.update([mx.np.array([label])], [mx.np.array(pred[None])])
    assert one_by_one.get()[1] == pytest.approx(ref)


def test_mxnet_unit_test_shapes():
    acc = metric.create("acc")
    acc.update([mx.np.array([[0, 1, 1], [1, 0, 1]])],
               [mx.np.array([[0.3, 0.7], [0, 1.], [0.4, 0.6], [0.8, 0.2], [0.3, 0.5],
                             [0.6, 0.4]])])
    assert acc.get()[1] == pytest.approx(2 / 6)  # argmax 1,1,1,0,1,0 vs 0,1,1,1,0,1
    pred = mx.np.array([[1, 2, 3, 4]])
    for name, expected in (("mse", 0.01), ("mae", 0.1), ("rmse", 0.1)):
        m = metric.create(name)
        m.update(pred + 0.1, pred)
        assert m.get()[1] == pytest.approx(expected, rel=1e-5)
    a, b = metric.create("loss"), metric.create("loss")
    a.update(None, [PROBS[0]])
    b.update(None, PROBS[0])
    assert a.get() == b.get()


SCORES = mx.np.array([[0.8, 0.2], [0.3, 0.7]])


@pytest.mark.parametrize("make,label", [(metric.Accuracy, [0, 1]), (metric.F1, [0, 1]),
                                        (metric.MSE, [[0, 1], [1, 0]]),
                                        (metric.CrossEntropy, [0, 1]),
                                        (lambda: metric.F1(class_type="multiclass"), [0, 1])])
def test_a_bad_batch_leaves_the_metric_unchanged(make, label):
    m = make()
    m.update([mx.np.array(label)], [SCORES])
    before = m.get()
    with pytest.raises(ValueError):
        m.update([mx.np.array(label), mx.np.array([0, 1, 1])],
                 [SCORES, mx.np.array([[0.1, 0.2, 0.7]] * 2)])
    assert m.get() == before
