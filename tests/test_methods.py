"""Each distillation loss against a direct implementation of its paper's formula.

The direct versions are written differently from the library on purpose (loops,
numpy, explicit sums), so a shared mistake is unlikely. Where a formula has an
identity or a zero case, it is pinned too.
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from kdbench.distill import METHODS, soft_kl, standardize
from kdbench.distill.crd import ContrastMemory
from kdbench.distill.functional import at_loss, dist_parts, dkd_parts, pkt_loss, sp_loss
from kdbench.distill.functional import crd_nce_loss as nce_loss
from kdbench.distill.functional import rkd_angle_loss as rkd_angle
from kdbench.distill.functional import rkd_distance_loss as rkd_distance
from kdbench.errors import KdbenchError
from kdbench.models import ModelOutput, create_model


def rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def out(logits=None, features=None, embedding=None):
    return ModelOutput(logits, features or [], embedding)


# ---------------------------------------------------------------- logit methods


def test_logit_standardization_is_a_per_sample_z_score():
    z = rand(4, 7)
    zs = standardize(z)
    for row, srow in zip(z.numpy(), zs.numpy()):
        np.testing.assert_allclose(srow, (row - row.mean()) / row.std(ddof=1), rtol=1e-6)
    # invariant to shift and positive scale of the logits: only relations remain
    assert torch.allclose(standardize(3 * z + 5), zs, atol=1e-6)


def test_kd_with_logit_standardization_uses_the_standardized_logits():
    s, t = rand(6, 5, seed=1), rand(6, 5, seed=2)
    cfg = METHODS.get("kd").Params(T=2.0, logit_stand=True)
    kd = METHODS.get("kd")(cfg, None, None, None)
    expected = soft_kl(standardize(s), standardize(t), 2.0) * 4.0
    assert kd(out(s), out(t), None).item() == pytest.approx(expected.item(), rel=1e-6)
    # a teacher whose logits are an affine copy of the student's leaves nothing to learn
    assert kd(out(s), out(4 * s + 1), None).item() == pytest.approx(0.0, abs=1e-5)


def direct_dkd(s, t, y, T):
    """TCKD and NCKD for each sample, written out class by class."""
    tckd, nckd = [], []
    for zs, zt, c in zip(s.tolist(), t.tolist(), y.tolist()):
        ps = [math.exp(v / T) for v in zs]
        pt = [math.exp(v / T) for v in zt]
        ps, pt = [p / sum(ps) for p in ps], [p / sum(pt) for p in pt]
        bs, bt = (ps[c], 1 - ps[c]), (pt[c], 1 - pt[c])
        tckd.append(sum(b * math.log(b / a) for a, b in zip(bs, bt)))
        qs = [p for i, p in enumerate(ps) if i != c]
        qt = [p for i, p in enumerate(pt) if i != c]
        qs, qt = [q / sum(qs) for q in qs], [q / sum(qt) for q in qt]
        nckd.append(sum(b * math.log(b / a) for a, b in zip(qs, qt)))
    return tckd, nckd, [p for p in pt]


@pytest.mark.parametrize("T", [1.0, 4.0])
def test_dkd_parts_match_the_paper(T):
    s, t, y = rand(5, 6, seed=3), rand(5, 6, seed=4), torch.tensor([0, 5, 2, 2, 3])
    tckd, nckd = dkd_parts(s, t, y, T)
    d_tckd, d_nckd, _ = direct_dkd(s, t, y, T)
    assert tckd.item() == pytest.approx(np.mean(d_tckd), rel=1e-5)
    assert nckd.item() == pytest.approx(np.mean(d_nckd), rel=1e-5)


def test_dkd_reformulates_kd():
    """Zhao et al., eq. 7: KD = TCKD + (1 - p_target^teacher) * NCKD, per sample."""
    s, t, y = rand(1, 8, seed=5), rand(1, 8, seed=6), torch.tensor([3])
    tckd, nckd = dkd_parts(s, t, y, 2.0)
    pt = torch.softmax(t / 2.0, dim=1)[0, 3].item()
    assert (tckd + (1 - pt) * nckd).item() == pytest.approx(soft_kl(s, t, 2.0).item(), rel=1e-5)


def test_dkd_weights_scaling_warmup_and_zero_case():
    s, t, y = rand(4, 5, seed=7), rand(4, 5, seed=8), torch.tensor([0, 1, 2, 3])
    cfg = METHODS.get("dkd").Params(T=4.0, dkd_alpha=0.5, dkd_beta=3.0, warmup=4)
    dkd = METHODS.get("dkd")(cfg, None, None, None)
    tckd, nckd = dkd_parts(s, t, y, 4.0)
    full = 16.0 * (0.5 * tckd + 3.0 * nckd)
    dkd.epoch = 0  # first epoch: a quarter of the weight
    assert dkd(out(s), out(t), y).item() == pytest.approx(0.25 * full.item(), rel=1e-6)
    dkd.epoch = 10
    assert dkd(out(s), out(t), y).item() == pytest.approx(full.item(), rel=1e-6)
    assert dkd(out(s), out(s.clone()), y).item() == pytest.approx(0.0, abs=1e-9)


def test_dist_matches_pearson_correlations():
    s, t = rand(6, 5, seed=9), rand(6, 5, seed=10)
    T = 3.0
    ps, pt = torch.softmax(s / T, 1).numpy(), torch.softmax(t / T, 1).numpy()
    inter_d = 1 - np.mean([np.corrcoef(a, b)[0, 1] for a, b in zip(ps, pt)])
    intra_d = 1 - np.mean([np.corrcoef(a, b)[0, 1] for a, b in zip(ps.T, pt.T)])
    inter, intra = dist_parts(s, t, T)
    assert inter.item() == pytest.approx(inter_d, rel=1e-5)
    assert intra.item() == pytest.approx(intra_d, rel=1e-5)
    cfg = METHODS.get("dist").Params(T=T, dist_beta=2.0, dist_gamma=0.5)
    dist = METHODS.get("dist")(cfg, None, None, None)
    assert dist(out(s), out(t), None).item() == pytest.approx(
        9 * (2 * inter_d + 0.5 * intra_d), rel=1e-5
    )
    assert dist(out(s), out(s.clone()), None).item() == pytest.approx(0.0, abs=1e-4)


# -------------------------------------------------------------- feature methods


def direct_attention(f, p):
    """Q = sum_c |A_c|^p / C, flattened, divided by its L2 norm."""
    q = (f.abs() ** p).sum(dim=1) / f.shape[1]
    q = q.reshape(len(f), -1)
    return q / q.norm(dim=1, keepdim=True)


def test_at_matches_the_attention_map_formula():
    fs, ft = rand(3, 4, 5, 5, seed=11), rand(3, 9, 5, 5, seed=12)
    expected = ((direct_attention(fs, 2) - direct_attention(ft, 2)) ** 2).mean()
    assert at_loss(fs, ft, 2.0).item() == pytest.approx(expected.item(), rel=1e-5)
    # attention maps are normalised: scaling a map changes nothing
    assert at_loss(fs, 5 * fs).item() == pytest.approx(0.0, abs=1e-9)


def test_at_pools_the_larger_map():
    fs, ft = rand(2, 4, 8, 8, seed=13), rand(2, 6, 4, 4, seed=14)
    pooled = F.avg_pool2d(fs, 2)
    expected = ((direct_attention(pooled, 2) - direct_attention(ft, 2)) ** 2).mean()
    assert at_loss(fs, ft).item() == pytest.approx(expected.item(), rel=1e-5)


def test_sp_matches_the_gram_matrix_formula():
    fs, ft = rand(5, 3, 2, 2, seed=15), rand(5, 7, seed=16)
    b = 5

    def gram(f):
        f = f.reshape(b, -1)
        g = np.array([[float(f[i] @ f[j]) for j in range(b)] for i in range(b)])
        return g / np.linalg.norm(g, axis=1, keepdims=True)

    expected = ((gram(fs) - gram(ft)) ** 2).sum() / b**2
    assert sp_loss(fs, ft).item() == pytest.approx(expected, rel=1e-5)
    assert sp_loss(fs, 2 * fs).item() == pytest.approx(0.0, abs=1e-9)


def test_pkt_matches_the_conditional_probability_formula():
    fs, ft = rand(4, 6, seed=17), rand(4, 3, seed=18)

    def cond(f):
        f = f.numpy()
        cos = np.array([[a @ b / np.linalg.norm(a) / np.linalg.norm(b) for b in f] for a in f])
        k = (cos + 1) / 2
        return k / k.sum(axis=1, keepdims=True)

    ps, pt = cond(fs), cond(ft)
    expected = np.mean(pt * np.log(pt / ps))
    assert pkt_loss(fs, ft).item() == pytest.approx(expected, rel=1e-4)
    assert pkt_loss(fs, 3 * fs).item() == pytest.approx(0.0, abs=1e-7)


def huber(a, b):
    d = np.abs(np.asarray(a) - np.asarray(b))
    return np.mean(np.where(d < 1, 0.5 * d**2, d - 0.5))


def test_rkd_matches_distance_and_angle_formulas():
    fs, ft = rand(5, 4, seed=19), rand(5, 6, seed=20)
    n = 5

    def distances(f):
        d = np.array([[np.linalg.norm(f[i] - f[j]) for j in range(n)] for i in range(n)])
        return d / d[d > 0].mean()

    def angles(f):
        f = f.numpy()
        a = np.zeros((n, n, n))
        for i in range(n):
            for j in range(n):
                for k in range(n):
                    u, v = f[i] - f[j], f[k] - f[j]
                    nu, nv = np.linalg.norm(u), np.linalg.norm(v)
                    a[j, i, k] = (u @ v) / (nu * nv) if nu > 0 and nv > 0 else 0.0
        return a.ravel()

    assert rkd_distance(fs, ft).item() == pytest.approx(
        huber(distances(fs.numpy()), distances(ft.numpy())), rel=1e-5
    )
    assert rkd_angle(fs, ft).item() == pytest.approx(huber(angles(fs), angles(ft)), rel=1e-5)
    # relations are scale-free: a scaled copy of the teacher has nothing to learn
    assert rkd_distance(3 * ft, ft).item() == pytest.approx(0.0, abs=1e-9)
    assert rkd_angle(3 * ft, ft).item() == pytest.approx(0.0, abs=1e-9)


def test_crd_nce_loss_matches_the_formula():
    scores = torch.rand(3, 5, generator=torch.Generator().manual_seed(21), dtype=torch.float64)
    n, k = 50, 4
    pn = 1 / n
    expected = 0.0
    for row in scores.tolist():
        expected -= math.log(row[0] / (row[0] + k * pn))
        expected -= sum(math.log(k * pn / (x + k * pn)) for x in row[1:])
    assert nce_loss(scores, n).item() == pytest.approx(expected / 3, rel=1e-5)


def test_crd_memory_scores_positives_and_updates_with_momentum():
    torch.manual_seed(0)
    mem = ContrastMemory(dim=4, num_data=10, k=3, t=0.5, momentum=0.25, sampling="uniform")
    vs, vt = F.normalize(torch.randn(2, 4), dim=1), F.normalize(torch.randn(2, 4), dim=1)
    index = torch.tensor([7, 2])
    idx = torch.tensor([[7, 0, 1, 3], [2, 4, 5, 6]])
    bank_s, bank_t = mem.memory_s.clone(), mem.memory_t.clone()
    out_s, out_t = mem(vs, vt, index, idx)
    raw_s = torch.exp((bank_t[idx] * vs[:, None, :]).sum(-1) / 0.5)
    raw_t = torch.exp((bank_s[idx] * vt[:, None, :]).sum(-1) / 0.5)
    z_s, z_t = raw_s.mean() * 10, raw_t.mean() * 10  # Z fixed on the first batch
    assert torch.allclose(out_s, raw_s / z_s) and torch.allclose(out_t, raw_t / z_t)
    for bank, old, v in ((mem.memory_s, bank_s, vs), (mem.memory_t, bank_t, vt)):
        expected = F.normalize(0.25 * old[index] + 0.75 * v, dim=1)
        assert torch.allclose(bank[index], expected)
        untouched = [i for i in range(10) if i not in (7, 2)]
        assert torch.equal(bank[untouched], old[untouched])
    assert mem.sample(index)[:, 0].tolist() == [7, 2]  # the positive is the sample itself


# ------------------------------------------------- adapters and impossible pairs


def test_fitnet_regressor_is_repdistillers_convreg():
    """conv sized to the teacher's map (3x3 stride 2 for a 2x larger map) + BN + ReLU."""
    torch.manual_seed(0)
    student = create_model("resnet8", 10, 1)  # stages 16x8x8, 32x4x4, 64x2x2
    teacher = create_model("cnn", 10, 1, width=0.5)  # stages 16x8x8, 32x4x4, 64x2x2
    teacher_big = create_model("vgg8", 10, 1)  # five stages
    x = torch.randn(4, 1, 8, 8)
    fit = METHODS.get("fitnet")(METHODS.get("fitnet").Params(), student, teacher_big, x[:2])
    assert (fit.s_index, fit.t_index) == (1, 2)  # middle student stage, middle teacher stage
    so, to = student.forward_features(x), teacher_big.forward_features(x)
    conv = fit.regressor.conv
    assert (conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride) == (
        32,
        256,
        (3, 3),
        (2, 2),
    )
    assert fit.regressor.relu  # the teacher's hint is post-ReLU
    fit.eval()  # BN with running statistics: a fixed affine map
    bn = fit.regressor.bn
    y = conv(so.features[1])
    y = (y - bn.running_mean[:, None, None]) / torch.sqrt(bn.running_var[:, None, None] + bn.eps)
    y = torch.clamp(y * bn.weight[:, None, None] + bn.bias[:, None, None], min=0)
    expected = ((y - to.features[2]) ** 2).mean()
    assert fit(so, to, None).item() == pytest.approx(expected.item(), rel=1e-5)
    same = METHODS.get("fitnet")(METHODS.get("fitnet").Params(), student, teacher, x[:2])
    assert same.t_index == 1 and same.regressor.conv.kernel_size == (1, 1)


@pytest.mark.parametrize("method", ["fitnet", "at"])
def test_impossible_pairing_fails_at_start_naming_both_models(method):
    student, teacher = create_model("mlp", 10, 1), create_model("resnet8", 10, 1)
    with pytest.raises(KdbenchError) as err:
        METHODS.get(method)(METHODS.get(method).Params(), student, teacher, torch.randn(2, 1, 8, 8))
    message = str(err.value)
    assert "MLP" in message and "CifarResNet" in message and "spatial feature maps" in message


def test_crd_needs_the_training_set_size():
    s, t = create_model("cnn", 10, 1, width=0.25), create_model("cnn", 10, 1, width=0.5)
    params = METHODS.get("crd").Params()
    with pytest.raises(KdbenchError, match="num_train"):
        METHODS.get("crd")(params, s, t, torch.randn(2, 1, 8, 8))
    with pytest.raises(KdbenchError, match="training labels"):
        METHODS.get("crd")(params, s, t, torch.randn(2, 1, 8, 8), num_train=40)
    labels = torch.arange(40) % 4
    crd = METHODS.get("crd")(params, s, t, torch.randn(2, 1, 8, 8), 40, labels)
    assert crd.memory.memory_s.shape == (40, 128) and crd.memory.k == 39
