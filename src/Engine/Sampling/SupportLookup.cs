using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Engine.Sampling;

/// <summary>Reads the sampling support of the rows that ask for it (<see cref="SamplingParams.ReturnSupport"/>) back to the host.</summary>
internal static class SupportLookup
{
    /// <summary>
    /// The support of each row of <paramref name="processedLogits"/> [R, vocab], the logits the draw was made
    /// from: its finite entries, or for a greedy row the token it chose (<paramref name="chosen"/>). Null for a
    /// row that does not ask, and null in place of the array when no row asks, so such batches touch no tensor.
    /// </summary>
    public static DrawSupport?[]? Read(Tensor processedLogits, long[] chosen, IReadOnlyList<SamplingRow> rows)
    {
        DrawSupport?[]? support = null;
        var drawn = new List<int>();
        var listed = new List<int>();
        for (int r = 0; r < rows.Count; r++)
        {
            var p = rows[r].Params;
            if (p.ReturnSupport == SamplingSupport.None) continue;
            support ??= new DrawSupport?[rows.Count];
            if (p.IsGreedy)
            {
                support[r] = new DrawSupport(1, p.ReturnSupport == SamplingSupport.Ids ? [(int)chosen[r]] : null);
                continue;
            }
            drawn.Add(r);
            if (p.ReturnSupport == SamplingSupport.Ids) listed.Add(r);
        }
        if (drawn.Count == 0) return support;

        var sizes = Finite(processedLogits, drawn).sum(-1).cpu().data<long>().ToArray();
        // nonzero lists (row, id) pairs row by row with ids ascending, so each listed row's ids are the next `size` entries.
        long[] ids = listed.Count == 0 ? [] : Finite(processedLogits, listed).nonzero().select(1, 1).cpu().data<long>().ToArray();
        int next = 0;
        for (int d = 0; d < drawn.Count; d++)
        {
            int r = drawn[d];
            int size = (int)sizes[d];
            int[]? rowIds = null;
            if (rows[r].Params.ReturnSupport == SamplingSupport.Ids)
            {
                rowIds = new int[size];
                for (int j = 0; j < size; j++) rowIds[j] = (int)ids[next + j];
                next += size;
            }
            support![r] = new DrawSupport(size, rowIds);
        }
        return support;
    }

    static Tensor Finite(Tensor logits, List<int> rows) =>
        (rows.Count == logits.shape[0] ? logits : logits.index_select(0, tensor(rows.Select(r => (long)r).ToArray(), device: logits.device))).isfinite();
}
