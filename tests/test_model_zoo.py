"""gluon.model_zoo.vision: MXNet's architectures, checked by parameter counts and forward
shapes.

MXNet counts every Parameter of ``collect_params()``, BatchNorm's running mean and variance
included: resnet18_v1 has 11,699,112. Without the running statistics the counts are the
published ones of the same architectures (torchvision's model tables, Keras for MobileNet),
plus MXNet's own choices: its V1 bottlenecks give both 1x1 convolutions a bias, and its
MobileNetV2 keeps the first block's 1x1 expansion and classifies with a bias-free 1x1
convolution (+1088 - 1000 parameters), and its Inception V3 has no auxiliary classifier."""
import numpy as np
import pytest

import mxlite as mx
from mxlite.gluon.model_zoo import vision


def _bottleneck_biases(blocks):
    return sum(n * (c // 4 + c) for n, c in zip(blocks, (256, 512, 1024, 2048)))


# name -> parameters without BatchNorm running statistics, for classes=1000
PUBLISHED = {
    "resnet18_v1": 11_689_512, "resnet34_v1": 21_797_672,
    "resnet50_v1": 25_557_032 + _bottleneck_biases([3, 4, 6, 3]),
    "resnet101_v1": 44_549_160 + _bottleneck_biases([3, 4, 23, 3]),
    "resnet152_v1": 60_192_808 + _bottleneck_biases([3, 8, 36, 3]),
    "densenet121": 7_978_856, "densenet161": 28_681_000, "densenet169": 14_149_480,
    "densenet201": 20_013_928, "squeezenet1.0": 1_248_424, "squeezenet1.1": 1_235_496,
    "mobilenetv2_1.0": 3_504_872 + 1088 - 1000,
    # torchvision's 27,161,264 less its auxiliary classifier (1x1 conv 768->128 + BN, 5x5 conv
    # 128->768 + BN, Linear 768->1000), which MXNet's Inception3 does not have
    "inceptionv3": 27_161_264 - (768 * 128 + 2 * 128 + 128 * 768 * 25 + 2 * 768 + 769_000),
    "vgg11": 132_863_336, "vgg13": 133_047_848, "vgg16": 138_357_544, "vgg19": 143_667_240,
    "vgg11_bn": 132_868_840, "vgg13_bn": 133_053_736, "vgg16_bn": 138_365_992,
    "vgg19_bn": 143_678_248, "alexnet": 61_100_840,
}
# every Parameter MXNet's collect_params() holds (running statistics included)
MXNET_TOTAL = {"resnet18_v1": 11_699_112, "mobilenet1.0": 4_253_864}
# the first Dense layer infers its input; a 224 x 224 image gives it these many features
DENSE_INPUT_AT_224 = {"vgg": 512 * 7 * 7, "alexnet": 256 * 6 * 6}


def _count(net, running=True):
    for p in net.collect_params().values():
        if -1 in p.shape:  # the deferred Dense of VGG / AlexNet
            p.shape = (p.shape[0], DENSE_INPUT_AT_224["alexnet" if isinstance(
                net, vision.AlexNet) else "vgg"])
    return sum(int(np.prod(p.shape)) for name, p in net.collect_params().items()
               if running or "running_" not in name)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_parameter_counts_match_the_published_architectures(name):
    assert _count(vision.get_model(name), running=False) == PUBLISHED[name]


@pytest.mark.parametrize("name", sorted(MXNET_TOTAL))
def test_parameter_counts_match_mxnet(name):
    assert _count(vision.get_model(name)) == MXNET_TOTAL[name]


def test_classes_changes_only_the_classifier():
    assert _count(vision.resnet18_v1()) - _count(vision.resnet18_v1(classes=10)) == \
        990 * (512 + 1)
    assert vision.resnet18_v2().output.weight.shape == (1000, 512)


@pytest.mark.parametrize("name,size", [("resnet18_v1", 32), ("resnet34_v2", 32),
                                       ("resnet50_v1", 32), ("resnet50_v2", 32),
                                       ("mobilenet0.25", 32), ("mobilenetv2_0.25", 32),
                                       ("vgg11_bn", 32), ("densenet121", 224),
                                       ("inceptionv3", 299),
                                       ("squeezenet1.1", 224)])
def test_forward_shape(name, size):
    net = vision.get_model(name, classes=7)
    net.initialize()
    out = net(mx.np.array(np.random.rand(2, 3, size, size).astype(np.float32)))
    assert out.shape == (2, 7)
    assert np.isfinite(out.asnumpy()).all()


def test_thumbnail_resnet_keeps_resolution_in_the_stem():
    net = vision.resnet18_v1(classes=10, thumbnail=True)
    net.initialize()
    assert net.features[0](mx.np.zeros((1, 3, 8, 8))).shape == (1, 64, 8, 8)
    assert net(mx.np.zeros((1, 3, 8, 8))).shape == (1, 10)


def test_constructor_names_and_errors():
    assert isinstance(vision.get_model("mobilenet_v2_1_0"), vision.MobileNetV2)
    assert isinstance(vision.get_model("ResNet50_V2"), vision.ResNetV2)
    assert isinstance(mx.gluon.model_zoo.get_model("squeezenet1.0"), vision.SqueezeNet)
    with pytest.raises(ValueError, match="(?s)not supported.*resnet18_v1"):
        vision.get_model("resnet19_v1")
    with pytest.raises(ValueError, match="does not download.*load_parameters"):
        vision.get_model("resnet18_v1", pretrained=True)
    with pytest.raises(ValueError, match="Invalid number of layers"):
        vision.get_resnet(1, 20)


def test_a_training_step_on_each_device(device):
    from mxlite import autograd, gluon
    net = vision.resnet18_v1(classes=4)
    net.initialize(mx.init.Xavier(), device=device)
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    x = mx.np.array(np.random.rand(4, 3, 16, 16).astype(np.float32), device=device)
    y = mx.np.array([0, 1, 2, 3], device=device)
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    acc = gluon.metric.Accuracy()
    before = net.output.weight.data().asnumpy().copy()
    with autograd.record():
        out = net(x)
        loss = loss_fn(out, y)
    loss.backward()
    trainer.step(4)
    acc.update(y, out)
    assert out.shape == (4, 4) and out.device == device
    assert 0.0 <= acc.get()[1] <= 1.0
    assert not np.allclose(net.output.weight.data().asnumpy(), before)
    running = net.features[1].running_mean.data().asnumpy()  # the first BatchNorm
    assert np.abs(running).sum() > 0  # statistics were updated by the training forward
