using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Engine.Sampling;

/// <summary>Reads logprobs of given tokens, and each row's most likely alternatives, back to the host.</summary>
internal static class LogprobLookup
{
    /// <summary>
    /// For each row of <paramref name="logprobs"/> [R, vocab]: the logprob of that row's token in
    /// <paramref name="tokens"/> [R], and its <paramref name="topK"/> most likely tokens, best first.
    /// </summary>
    public static (float[] Chosen, TokenLogprob[][] Top) Read(Tensor logprobs, Tensor tokens, int topK)
    {
        var chosen = logprobs.gather(1, tokens.unsqueeze(1)).squeeze(1).cpu().data<float>().ToArray();
        int k = (int)Math.Min(topK, logprobs.shape[1]);
        float[] values = [];
        long[] ids = [];
        if (k > 0)
        {
            var (topValues, topIds) = logprobs.topk(k);
            values = topValues.cpu().data<float>().ToArray();
            ids = topIds.cpu().data<long>().ToArray();
        }
        var top = new TokenLogprob[chosen.Length][];
        for (int r = 0; r < top.Length; r++)
        {
            top[r] = new TokenLogprob[k];
            for (int j = 0; j < k; j++) top[r][j] = new TokenLogprob((int)ids[r * k + j], values[r * k + j]);
        }
        return (chosen, top);
    }
}
