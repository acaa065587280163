"""Every method's loss as a pure function of tensors, with its paper's arguments.

Usable outside the harness (no config, no model): the method modules call these
and add only what the harness needs (adapters, memory banks, warm-ups). Natural
logs throughout. Inputs in float16/bfloat16 are promoted to float32; float32
and float64 are kept, so a float64 call is exact to float64 rounding.

Each docstring gives the formula and says where the code departs from the paper.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def promote(x: torch.Tensor) -> torch.Tensor:
    """float16/bfloat16 -> float32 (mixed precision); float32/float64 unchanged."""
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


# ------------------------------------------------------------------------ logits


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, T: float) -> torch.Tensor:
    """KL(teacher || student) of the distributions softened by `T`, batch mean, times T^2.

    Hinton et al. (2015) scale by T^2 so the soft term's gradients keep their
    magnitude as T changes; `soft_kl` gives the unscaled value.
    """
    return soft_kl(student_logits, teacher_logits, T) * T * T


def soft_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor, T: float) -> torch.Tensor:
    """KL(softmax(t/T) || softmax(s/T)), summed over classes, averaged over the batch."""
    log_p_student = F.log_softmax(promote(student_logits) / T, dim=1)
    log_p_teacher = F.log_softmax(promote(teacher_logits) / T, dim=1)
    return F.kl_div(log_p_student, log_p_teacher, reduction="batchmean", log_target=True)


def soft_cross_entropy(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, T: float
) -> torch.Tensor:
    """Cross-entropy H(teacher, student) of the softened distributions, batch mean.

    Equals KL(teacher || student) plus the teacher's entropy, which does not
    depend on the student, so both give the student the same gradients.
    """
    p_teacher = F.softmax(promote(teacher_logits) / T, dim=1)
    log_p_student = F.log_softmax(promote(student_logits) / T, dim=1)
    return -(p_teacher * log_p_student).sum(dim=1).mean()


def weighted_sum(terms: dict[str, torch.Tensor], weights: dict[str, float]) -> torch.Tensor:
    """L = sum_k w_k * L_k over a method's named terms: `w1 * L_LL + w2 * L_KD` as the source
    documents write it when the terms are `ce` and `kd`. A term without a weight counts 0."""
    total = None
    for name, value in terms.items():
        part = weights.get(name, 0.0) * value
        total = part if total is None else total + part
    if total is None:
        raise ValueError("a loss needs at least one term")
    return total


def standardize(logits: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Z-score each sample's logits (Sun et al., 2024, "Logit Standardization in KD").

    (z - mean) / (std + eps), std with Bessel's correction and eps = 1e-7, exactly
    as the authors' code (the paper's eq. has no eps). The student then matches
    the teacher's logit *relations*, not their scale; T is applied afterwards.
    """
    mean = logits.mean(dim=1, keepdim=True)
    std = logits.std(dim=1, keepdim=True)
    return (logits - mean) / (std + eps)


def _binary_log_probs(z: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(B, 2) log [p_target, 1 - p_target] of softmax(z), both from logsumexps.

    log(1 - p_t) = logsumexp(z_j, j != t) - logsumexp(z): exact even when p_t
    rounds to 1 (confident logits), where forming 1 - p_t would give 0.
    """
    lse = torch.logsumexp(z, dim=1, keepdim=True)
    log_pt = z.gather(1, target[:, None]) - lse
    log_rest = torch.logsumexp(_non_target(z, target), dim=1, keepdim=True) - lse
    return torch.cat([log_pt, log_rest], dim=1)


def _non_target(z: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The logits of the other classes, (B, C-1), in class order."""
    keep = torch.ones_like(z, dtype=torch.bool).scatter_(1, target[:, None], False)
    return z[keep].view(z.shape[0], z.shape[1] - 1)


def _kl_log(log_p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """KL(p || q) from log-probabilities, summed over dim 1, averaged over the batch."""
    return F.kl_div(log_q, log_p, reduction="batchmean", log_target=True)


def dkd_parts(
    logits_s: torch.Tensor, logits_t: torch.Tensor, target: torch.Tensor, T: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """(TCKD, NCKD) of Zhao et al. (2022), eqs. 2-4, batch means, without T^2.

    TCKD = KL(b^T || b^S) on the binary [p_t, 1 - p_t]; NCKD = KL(p^T || p^S) on
    the distribution over the non-target classes (softmax of their logits). All
    in log space, no clamps: finite and exact for any logit scale.
    """
    s, t = promote(logits_s) / T, promote(logits_t) / T
    tckd = _kl_log(_binary_log_probs(t, target), _binary_log_probs(s, target))
    nckd = _kl_log(
        F.log_softmax(_non_target(t, target), dim=1), F.log_softmax(_non_target(s, target), dim=1)
    )
    return tckd, nckd


def dkd_loss(
    logits_s: torch.Tensor,
    logits_t: torch.Tensor,
    target: torch.Tensor,
    alpha: float,
    beta: float,
    T: float,
) -> torch.Tensor:
    """DKD = (alpha * TCKD + beta * NCKD) * T^2 (Zhao et al., 2022, eq. 7; T^2 as mdistiller)."""
    tckd, nckd = dkd_parts(logits_s, logits_t, target, T)
    return (alpha * tckd + beta * nckd) * T * T


#: DIST's eps in the Pearson denominator, as the authors' code (hunto's `dist_kd.py`) has it.
DIST_EPS = 1e-8


def _pearson_rows(a: torch.Tensor, b: torch.Tensor, eps: float = DIST_EPS) -> torch.Tensor:
    """Pearson correlation of each row of `a` with the same row of `b`.

    eps > 0 (default 1e-8, the authors' code): <a~, b~> / (|a~| |b~| + eps) of the centred
    rows a~, b~. Where both rows barely vary (a class that no sample of the batch predicts,
    at T = 1 with confident logits) eps outweighs |a~| |b~| and the correlation goes to 0.

    eps = 0: the paper's correlation, with no eps. Each centred row is then divided by its
    largest entry before its norm is taken, so rows of tiny probabilities neither
    underflow nor overflow; a constant row (no variation at all) has correlation 0.
    """
    a = a - a.mean(dim=1, keepdim=True)
    b = b - b.mean(dim=1, keepdim=True)
    if eps > 0:
        return (a * b).sum(dim=1) / (a.norm(dim=1) * b.norm(dim=1) + eps)
    tiny = torch.finfo(a.dtype).tiny

    def unit(x: torch.Tensor) -> torch.Tensor:
        x = x / x.abs().amax(dim=1, keepdim=True).clamp_min(tiny)
        return x / x.norm(dim=1, keepdim=True).clamp_min(tiny)

    return (unit(a) * unit(b)).sum(dim=1)


def dist_parts(
    logits_s: torch.Tensor, logits_t: torch.Tensor, T: float, eps: float = DIST_EPS
) -> tuple[torch.Tensor, torch.Tensor]:
    """(inter, intra) of Huang et al. (2022), eqs. 5-7, without T^2.

    inter = 1 - mean over samples of Pearson(p_s[i, :], p_t[i, :]); intra = the same
    over classes of Pearson(p_s[:, j], p_t[:, j]), p = softmax(z / T).

    Default eps = 1e-8 in the correlation's denominator, as the authors' code: their
    published settings and results (T = 1 on ImageNet) belong to that form, and it
    differs from the paper's at T = 1 with confident logits, where classes that no
    sample predicts carry noise-level probabilities whose correlation eps zeroes.
    eps = 0 is the paper's formula exactly (see `_pearson_rows`).
    """
    ps = torch.softmax(promote(logits_s) / T, dim=1)
    pt = torch.softmax(promote(logits_t) / T, dim=1)
    inter = 1 - _pearson_rows(ps, pt, eps).mean()
    intra = 1 - _pearson_rows(ps.t(), pt.t(), eps).mean()
    return inter, intra


def dist_loss(
    logits_s: torch.Tensor,
    logits_t: torch.Tensor,
    beta: float,
    gamma: float,
    T: float,
    eps: float = DIST_EPS,
) -> torch.Tensor:
    """DIST = T^2 * (beta * inter + gamma * intra) (Huang et al., 2022, eq. 8).

    eps = 1e-8 (default) is the authors' code, eps = 0 the paper's formula (`dist_parts`).
    """
    inter, intra = dist_parts(logits_s, logits_t, T, eps)
    return T * T * (beta * inter + gamma * intra)


def deit_distill_term(
    dist_logits: torch.Tensor, teacher_logits: torch.Tensor, kind: str, T: float = 1.0
) -> torch.Tensor:
    """DeiT's distillation-head term (Touvron et al., 2021, eqs. 2-3).

    soft: T^2 * KL(softmax(t/T) || softmax(d/T)), summed over classes, batch mean;
    hard: CE(d, argmax t), the teacher's decision as a label. The authors' code
    (facebookresearch/deit losses.py `DistillationLoss`) divides the soft sum by
    `outputs_kd.numel()` (batch x classes), i.e. its soft term is this one / C;
    here the batch mean of `kd_loss`, so that DeiT-soft and KD weigh the same KL alike.
    """
    if kind == "soft":
        return kd_loss(dist_logits, teacher_logits, T)
    if kind == "hard":
        return F.cross_entropy(promote(dist_logits), teacher_logits.argmax(dim=1))
    raise ValueError(f"deit kind must be soft or hard, got {kind!r}")


def deit_loss(
    cls_logits: torch.Tensor,
    dist_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    labels: torch.Tensor,
    kind: str,
    alpha: float = 0.5,
    T: float = 1.0,
) -> torch.Tensor:
    """(1 - alpha) * CE(class head, labels) + alpha * `deit_distill_term` (distillation head).

    DeiT's hard distillation is alpha = 1/2 (eq. 3: 1/2 CE(y) + 1/2 CE(y_t)); soft uses
    the alpha of eq. 2 (the authors' `--distillation-alpha`, 0.5 by default).
    """
    ce = F.cross_entropy(promote(cls_logits), labels)
    return (1 - alpha) * ce + alpha * deit_distill_term(dist_logits, teacher_logits, kind, T)


# ---------------------------------------------------------------------- features


def fitnet_loss(regressed_s: torch.Tensor, hint_t: torch.Tensor) -> torch.Tensor:
    """FitNets' hint loss (Romero et al., 2015, eq. 3): mean squared error of r(u_s) and u_t.

    The paper writes 1/2 ||u_t - r(v_s)||^2 summed; the reference implementations
    (RepDistiller, mdistiller) average over all elements and drop the 1/2, which
    the published weight (100) belongs to; so does this.
    """
    return F.mse_loss(promote(regressed_s), promote(hint_t))


def match_spatial(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Average-pool the larger of two (N, C, H, W) maps down to the other's size."""
    ha, wa = a.shape[-2:]
    hb, wb = b.shape[-2:]
    if (ha, wa) == (hb, wb):
        return a, b
    size = (min(ha, hb), min(wa, wb))
    return F.adaptive_avg_pool2d(a, size), F.adaptive_avg_pool2d(b, size)


def attention_map(f: torch.Tensor, p: float = 2.0) -> torch.Tensor:
    """Q = mean_c |A_c|^p, flattened and L2-normalised (Zagoruyko & Komodakis, 2017, eq. 2)."""
    return F.normalize(promote(f).abs().pow(p).mean(dim=1).flatten(1), dim=1)


def at_loss(fs: torch.Tensor, ft: torch.Tensor, p: float = 2.0) -> torch.Tensor:
    """Attention transfer for one pair of maps: mean over batch and positions of (Q_s - Q_t)^2.

    As the authors' code and RepDistiller (the weight 1000 belongs to this form);
    the paper's eq. 2 writes beta/2 * ||Q_s - Q_t||_p. Maps of different sizes
    (a kdbench extension: the references need equal sizes) are pooled to the smaller.
    """
    fs, ft = match_spatial(fs, ft)
    return (attention_map(fs, p) - attention_map(ft, p)).pow(2).mean()


def sp_loss(fs: torch.Tensor, ft: torch.Tensor) -> torch.Tensor:
    """Similarity-preserving KD (Tung & Mori, 2019, eqs. 2-4): ||G~_s - G~_t||_F^2 / B^2.

    G = Q Q^T of the flattened features, each row L2-normalised.
    """
    b = fs.shape[0]
    qs, qt = promote(fs).flatten(1), promote(ft).flatten(1)
    gs = F.normalize(qs @ qs.t(), dim=1)
    gt = F.normalize(qt @ qt.t(), dim=1)
    return (gs - gt).pow(2).sum() / (b * b)


#: PKT's eps in the normalisation and in the log, as the authors' code (Passalis'
#: `cosine_similarity_loss`) has it.
PKT_EPS = 1e-7


def _pkt_conditional(x: torch.Tensor, eps: float) -> torch.Tensor:
    """Row-normalised cosine kernel (cos + 1) / 2 of the flattened rows of `x`.

    eps > 0: each row is divided by (its norm + eps), as the authors' code; eps = 0:
    by its norm (a zero row stays zero).
    """
    x = promote(x).flatten(1)
    if eps > 0:
        x = x / (x.norm(dim=1, keepdim=True) + eps)
        x = torch.nan_to_num(x, nan=0.0)  # as the authors' code: NaN entries become 0
    else:
        x = F.normalize(x, dim=1)
    kernel = (x @ x.t() + 1.0) / 2.0  # cosine kernel, in [0, 1]
    return kernel / kernel.sum(dim=1, keepdim=True)


def pkt_loss(fs: torch.Tensor, ft: torch.Tensor, eps: float = PKT_EPS) -> torch.Tensor:
    """PKT (Passalis & Tefas, 2018, eqs. 8-10): mean_ij p_ij log(p_ij / q_ij).

    p (teacher) and q (student) are the cosine kernel (cos + 1) / 2 normalised per
    row. Departs from the paper as the authors' code does (and RepDistiller, whose
    weight 30000 belongs to this form): j = i is included and the B^2 terms are
    averaged, not summed.

    Default eps = 1e-7, as the authors' code: rows divided by (norm + eps) and
    mean p log((p + eps) / (q + eps)); the published weight and results belong to it.
    eps = 0 is the formula without eps (p log p taken as 0 at p = 0).
    """
    p, q = _pkt_conditional(ft, eps), _pkt_conditional(fs, eps)
    if eps > 0:
        return (p * torch.log((p + eps) / (q + eps))).mean()
    return (torch.xlogy(p, p) - p * torch.log(q)).mean()


def _pairwise_distance(e: torch.Tensor) -> torch.Tensor:
    """Euclidean distances of the rows, from the differences (no |a|^2 + |b|^2 - 2ab cancellation).

    The diagonal is 0; its sqrt is taken of a clamped 1e-300 stand-in so its gradient is 0.
    """
    sq = (e[:, None, :] - e[None, :, :]).pow(2).sum(dim=2)
    off = ~torch.eye(len(e), dtype=torch.bool, device=e.device)
    return torch.where(off, sq.clamp_min(torch.finfo(e.dtype).tiny).sqrt(), torch.zeros_like(sq))


def rkd_distance_loss(fs: torch.Tensor, ft: torch.Tensor) -> torch.Tensor:
    """RKD-D (Park et al., 2019, eqs. 3-4): Huber(d_s / mu_s, d_t / mu_t), mean over pairs.

    mu = the mean distance over pairs i != j; the Huber loss (delta 1) is averaged
    over all B^2 entries, diagonal included, as the authors' code.
    """
    ds = _pairwise_distance(promote(fs).flatten(1))
    dt = _pairwise_distance(promote(ft).flatten(1))
    n = len(ds)
    ds = ds / (ds.sum() / (n * (n - 1)))
    dt = dt / (dt.sum() / (n * (n - 1)))
    return F.smooth_l1_loss(ds, dt)


def _angles(e: torch.Tensor) -> torch.Tensor:
    """cos of the angle at j of every triplet (i, j, k): <e_ij, e_kj>, e_ij = unit(t_i - t_j)."""
    diff = F.normalize(e[None, :, :] - e[:, None, :], p=2, dim=2)
    return torch.bmm(diff, diff.transpose(1, 2)).flatten()


def rkd_angle_loss(fs: torch.Tensor, ft: torch.Tensor) -> torch.Tensor:
    """RKD-A (Park et al., 2019, eqs. 5-6): Huber of the triplet cosines, mean over B^3."""
    return F.smooth_l1_loss(_angles(promote(fs).flatten(1)), _angles(promote(ft).flatten(1)))


def rkd_loss(
    fs: torch.Tensor, ft: torch.Tensor, w_distance: float = 25.0, w_angle: float = 50.0
) -> torch.Tensor:
    """RKD = w_distance * RKD-D + w_angle * RKD-A (Park et al., 2019, eq. 7)."""
    return w_distance * rkd_distance_loss(fs, ft) + w_angle * rkd_angle_loss(fs, ft)


def crd_nce_loss(scores: torch.Tensor, num_data: int) -> torch.Tensor:
    """CRD's NCE loss (Tian et al., 2020, eq. 18) on (B, N+1) critic values, column 0 positive.

    h(x) = x / (x + N / M) with N negatives and M = `num_data`;
    L = -sum_b [log h(x_b0) + sum_{k>=1} log(1 - h(x_bk))] / B, i.e. the paper's
    -E_pos[log h] - N * E_neg[log(1 - h)] with its expectations taken over the
    batch and the N drawn negatives. Scores are the critic's exp(<u, v> / tau) / Z,
    positive, so no eps is needed (the reference adds 1e-7 to each denominator).
    """
    x = promote(scores)
    n = x.shape[1] - 1
    c = n / float(num_data)
    log_x, log_c = x.log(), torch.full_like(x, c).log()
    log_denominator = torch.logaddexp(log_x, log_c)
    log_h_pos = log_x[:, 0] - log_denominator[:, 0]
    log_1mh_neg = log_c[:, 1:] - log_denominator[:, 1:]
    return -(log_h_pos.sum() + log_1mh_neg.sum()) / x.shape[0]
