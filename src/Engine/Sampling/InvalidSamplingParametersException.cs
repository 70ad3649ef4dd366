namespace Rollout.Engine.Sampling;

/// <summary>A <see cref="SamplingParams"/> value is out of its allowed range; the message names the parameter and the range.</summary>
public sealed class InvalidSamplingParametersException : Exception
{
    /// <summary>Creates the exception for <paramref name="parameterName"/> (its OpenAI/vLLM spelling).</summary>
    public InvalidSamplingParametersException(string parameterName, string message)
        : base(message)
    {
        ParameterName = parameterName;
    }

    /// <summary>The offending parameter as clients spell it, e.g. <c>top_p</c>.</summary>
    public string ParameterName { get; }
}
