"""A small log-mel CNN classifier, registered with transformers' Auto classes.

The alternative to AST that the zoo compares at equal CPU time: four conv blocks (conv 3x3,
batch norm, ReLU; a stride of 2 in the first, 2x2 max pooling after the others), global average and max pooling, a linear head. Same inputs as
AST (``ASTFeatureExtractor``'s log-mel, [batch, frames, mel bins], short clips padded with silence by
``dub_models.features.DubFeatureExtractor``). ``import dub_models`` registers it, so
``AutoModelForAudioClassification.from_pretrained`` and ``pipeline("audio-classification")`` load it.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import (
    AutoConfig, AutoFeatureExtractor, AutoModelForAudioClassification,
    PretrainedConfig, PreTrainedModel,
)
from transformers.modeling_outputs import SequenceClassifierOutput

from .features import DubFeatureExtractor


class DubCNNConfig(PretrainedConfig):
    """Args:
        channels (`list[int]`, defaults to `[16, 48, 96, 160]`): output channels of the conv blocks.
        num_mel_bins (`int`, defaults to 128): mel bins of the input features.
        num_frames (`int`, defaults to 198): frames of the input features.
        dropout (`float`, defaults to 0.2): dropout before the head.
        pooling (`str`, defaults to `"global"`): how the last feature map becomes a vector. `"global"`: mean
            and max over frequency and time (position-free). `"time"`: mean and max over time only, so the
            head sees *where* in frequency the energy lies (a kick and a low tom differ mostly by that).
    """

    model_type = "dub-cnn"

    def __init__(self, channels=(16, 48, 96, 160), num_mel_bins=128, num_frames=198, dropout=0.2, pooling="global",
                 **kwargs):
        super().__init__(**kwargs)
        if pooling not in ("global", "time"):
            raise ValueError(f"pooling must be 'global' or 'time', not {pooling!r}")
        self.pooling = pooling
        self.channels = list(channels)
        self.num_mel_bins = num_mel_bins
        self.num_frames = num_frames
        self.dropout = dropout


class DubCNNForAudioClassification(PreTrainedModel):
    config_class = DubCNNConfig
    main_input_name = "input_values"

    def __init__(self, config: DubCNNConfig):
        super().__init__(config)
        blocks, c_in = [], 1
        for i, c in enumerate(config.channels):
            # the first block downsamples by its stride (cheap), the others by max pooling
            conv = nn.Conv2d(c_in, c, 3, stride=2 if i == 0 else 1, padding=1, bias=False)
            blocks += [conv, nn.BatchNorm2d(c), nn.ReLU(inplace=True)] + ([nn.MaxPool2d(2)] if i else [])
            c_in = c
        self.features = nn.Sequential(*blocks)
        self.dropout = nn.Dropout(config.dropout)
        n_freq = config.num_mel_bins  # bins left after the blocks (a dry run would move BatchNorm's statistics)
        for i in range(len(config.channels)):  # stride-2 conv (ceil), then 2x max pooling (floor)
            n_freq = (n_freq + 1) // 2 if i == 0 else n_freq // 2
        self.pooling = config.pooling  # saved configs without the key load as "global", the old behaviour
        width = 2 * c_in * (n_freq if self.pooling == "time" else 1)
        self.classifier = nn.Linear(width, config.num_labels)
        self.post_init()

    def _init_weights(self, module):
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    def forward(self, input_values: torch.Tensor, labels: torch.Tensor | None = None, **kwargs):
        x = self.features(input_values.transpose(1, 2).unsqueeze(1))  # [B, C, mels, frames]
        if self.pooling == "time":
            pooled = torch.cat([x.mean(dim=3), x.amax(dim=3)], dim=1).flatten(1)
        else:
            pooled = torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3))], dim=1)
        logits = self.classifier(self.dropout(pooled))
        loss = None
        if labels is not None:
            if self.config.problem_type == "multi_label_classification":
                loss = nn.functional.binary_cross_entropy_with_logits(logits, labels.float())
            else:
                loss = nn.functional.cross_entropy(logits, labels)
        return SequenceClassifierOutput(loss=loss, logits=logits)


@torch.no_grad()
def widen(model: DubCNNForAudioClassification, channels, noise: float = 0.01, seed: int = 0):
    """A wider copy of a dub CNN that computes the same function (Net2Net's widening, Chen et al. 2016):
    each block's new channels copy existing ones picked at random (conv filters and batch-norm
    parameters and statistics alike); the next layer's weights on a channel and its copies are
    divided among them, so its sums are unchanged. ``noise`` (relative to each weight tensor's standard
    deviation) is added to the copies' incoming filters so that they can learn apart; 0 gives exactly
    the same logits (in eval mode). Returns a new model; ``channels`` must be at least the current ones."""
    old = list(model.config.channels)
    channels = [int(c) for c in channels]
    if len(channels) != len(old) or any(n < o for n, o in zip(channels, old)):
        raise ValueError(f"widen: channels {channels} must list {len(old)} widths, each at least {old}")
    gen = torch.Generator().manual_seed(seed)
    config = DubCNNConfig(**{**model.config.to_dict(), "channels": channels})
    wide = DubCNNForAudioClassification(config).eval()
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    norms = [m for m in model.features if isinstance(m, nn.BatchNorm2d)]
    new_convs = [m for m in wide.features if isinstance(m, nn.Conv2d)]
    new_norms = [m for m in wide.features if isinstance(m, nn.BatchNorm2d)]
    pick_in = torch.arange(1)  # the input has one channel
    share_in = torch.ones(1)
    for conv, norm, nconv, nnorm, o, n in zip(convs, norms, new_convs, new_norms, old, channels):
        pick = torch.cat([torch.arange(o), torch.randint(0, o, (n - o,), generator=gen)])
        w = conv.weight[pick][:, pick_in] / share_in.view(1, -1, 1, 1)  # incoming weights, split by the copies
        if n > o and noise:
            w[o:] += noise * conv.weight.std() * torch.randn(w[o:].shape, generator=gen)
        nconv.weight.copy_(w)
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(nnorm, name).copy_(getattr(norm, name)[pick])
        nnorm.num_batches_tracked.copy_(norm.num_batches_tracked)
        share_in = torch.bincount(pick, minlength=o).float()[pick]  # how many copies each new channel has
        pick_in = pick
    # the head reads [mean, max] of each channel, times the frequency bins left with pooling "time";
    # its column (half, channel, bin) in the wide model is (half, picked channel, bin) in the old one
    n, o = channels[-1], old[-1]
    per = model.classifier.in_features // (2 * o)
    half, chan, fbin = torch.arange(2).view(2, 1, 1), pick_in.view(1, n, 1), torch.arange(per).view(1, 1, per)
    src = ((half * o + chan) * per + fbin).flatten()
    split = share_in.view(1, n, 1).expand(2, n, per).flatten()
    wide.classifier.weight.copy_(model.classifier.weight[:, src] / split)
    wide.classifier.bias.copy_(model.classifier.bias)
    wide.train(model.training)
    return wide


AutoConfig.register("dub-cnn", DubCNNConfig)
AutoModelForAudioClassification.register(DubCNNConfig, DubCNNForAudioClassification)
AutoFeatureExtractor.register(DubCNNConfig, DubFeatureExtractor)  # also makes its name loadable for AST models
