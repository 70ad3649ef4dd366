namespace Rollout.Models.Kernels;

/// <summary>
/// Which of a weight's rows each <see cref="PanelGemm"/> panel holds. Plain panels take the rows in order. A
/// paired layout puts two panels whose outputs combine one after the other, so that one thread finishes
/// both and the second panel's epilogue reads the first's outputs back from the output: SwiGLU's gate
/// columns then their up columns (<see cref="PanelEpilogue.SwiGlu"/>), or the low then the high half of a
/// rotary head's columns (<see cref="PanelEpilogue.Rotate"/>).
/// </summary>
internal readonly struct PanelLayout
{
    readonly Pairing _pairing;
    readonly int _headDim;
    readonly int _rotatedPanels;

    enum Pairing { None, GateUp, Rotary }

    PanelLayout(Pairing pairing, int headDim, int rotatedPanels) => (_pairing, _headDim, _rotatedPanels) = (pairing, headDim, rotatedPanels);

    /// <summary>Rows in order, panel p holding rows [32p, 32p + 32).</summary>
    public static PanelLayout Plain => default;

    /// <summary>A gate half over an up half, each a whole number of panels, packed gate panel j then up panel j.</summary>
    public static PanelLayout GateUp => new(Pairing.GateUp, 0, 0);

    /// <summary>
    /// Heads of <paramref name="headDim"/> rows (a multiple of 64) in HF's rotate-half layout over the first
    /// <paramref name="rotatedRows"/> rows, the rest in order: each 32 columns of a head's low half are
    /// followed by the 32 of its high half that rotate with them.
    /// </summary>
    public static PanelLayout Rotary(int headDim, int rotatedRows) => new(Pairing.Rotary, headDim, rotatedRows / PanelGemm.PanelColumns);

    /// <summary>Whether a weight of <paramref name="outFeatures"/> rows can be laid out like this.</summary>
    public bool Fits(int outFeatures) => _pairing switch
    {
        Pairing.GateUp => outFeatures > 0 && outFeatures % (2 * PanelGemm.PanelColumns) == 0,
        Pairing.Rotary => _headDim > 0 && _headDim % (2 * PanelGemm.PanelColumns) == 0 && _rotatedPanels * PanelGemm.PanelColumns % _headDim == 0
            && outFeatures % (2 * PanelGemm.PanelColumns) == 0 && _rotatedPanels * PanelGemm.PanelColumns <= outFeatures,
        _ => outFeatures > 0,
    };

    /// <summary>Whether this is a <see cref="Rotary"/> layout.</summary>
    public bool Rotates => _pairing == Pairing.Rotary;

    /// <summary>Whether the product's output is half as wide as the weight (SwiGLU's).</summary>
    public bool HalvesOutput => _pairing == Pairing.GateUp;

    /// <summary>Panels that must stay together, in order, on one thread.</summary>
    public int Group => _pairing == Pairing.None ? 1 : 2;

    /// <summary>The weight row of panel <paramref name="panel"/>'s first column, for a weight of <paramref name="outFeatures"/> rows.</summary>
    public int WeightRow(int panel, int outFeatures) => _pairing == Pairing.GateUp ? panel / 2 * PanelGemm.PanelColumns + panel % 2 * (outFeatures / 2) : OutputColumn(panel);

    /// <summary>The output column of panel <paramref name="panel"/>'s first column.</summary>
    public int OutputColumn(int panel)
    {
        if (_pairing == Pairing.GateUp) return panel / 2 * PanelGemm.PanelColumns;
        if (_pairing == Pairing.None || panel >= _rotatedPanels) return panel * PanelGemm.PanelColumns;
        int pairsPerHead = _headDim / (2 * PanelGemm.PanelColumns), pair = panel / 2;
        return pair / pairsPerHead * _headDim + panel % 2 * (_headDim / 2) + pair % pairsPerHead * PanelGemm.PanelColumns;
    }

    /// <summary>
    /// What the product does with panel <paramref name="panel"/>'s tiles, <paramref name="requested"/> being
    /// the product's own epilogue: a gate-up layout always ends in SwiGLU; <see cref="PanelEpilogue.Rotate"/>
    /// rotates a rotary layout's heads and stores every other panel; otherwise every panel takes
    /// <paramref name="requested"/>.
    /// </summary>
    public PanelEpilogue Finish(int panel, PanelEpilogue requested) => _pairing switch
    {
        Pairing.GateUp => panel % 2 == 0 ? PanelEpilogue.Store : PanelEpilogue.SwiGlu,
        Pairing.Rotary when requested == PanelEpilogue.Rotate => panel % 2 == 1 && panel < _rotatedPanels ? PanelEpilogue.Rotate : PanelEpilogue.Store,
        _ => requested,
    };

    /// <summary>Rotated heads' half width, in output columns.</summary>
    public int HalfHead => _headDim / 2;
}
