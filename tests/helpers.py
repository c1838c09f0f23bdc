"""Copy weights between lesson_lib modules and PyTorch's reference modules."""
import torch


@torch.no_grad()
def copy_mha_to_torch(ours, theirs):
    """Load our q/k/v/out projections into an ``nn.MultiheadAttention``."""
    theirs.in_proj_weight.copy_(torch.cat([ours.q_proj.weight, ours.k_proj.weight,
                                           ours.v_proj.weight]))
    theirs.in_proj_bias.copy_(torch.cat([ours.q_proj.bias, ours.k_proj.bias, ours.v_proj.bias]))
    theirs.out_proj.weight.copy_(ours.out_proj.weight)
    theirs.out_proj.bias.copy_(ours.out_proj.bias)


@torch.no_grad()
def copy_encoder_layer_to_torch(ours, theirs):
    copy_mha_to_torch(ours.self_attn, theirs.self_attn)
    _copy_ffn_norms(ours, theirs, 2)


@torch.no_grad()
def copy_decoder_layer_to_torch(ours, theirs):
    copy_mha_to_torch(ours.self_attn, theirs.self_attn)
    copy_mha_to_torch(ours.cross_attn, theirs.multihead_attn)
    _copy_ffn_norms(ours, theirs, 3)


def _copy_ffn_norms(ours, theirs, n_norms):
    theirs.linear1.load_state_dict(ours.ffn.fc1.state_dict())
    theirs.linear2.load_state_dict(ours.ffn.fc2.state_dict())
    for i in range(1, n_norms + 1):
        getattr(theirs, f"norm{i}").load_state_dict(getattr(ours, f"norm{i}").state_dict())


def randomize_norms(module, generator=None):
    """LayerNorms start at weight 1, bias 0; perturb them so a swapped norm is caught."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, torch.nn.LayerNorm):
                m.weight.copy_(1 + 0.3 * torch.randn(m.weight.shape, generator=generator))
                m.bias.copy_(0.3 * torch.randn(m.bias.shape, generator=generator))
