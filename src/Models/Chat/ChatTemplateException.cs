namespace Rollout.Models.Chat;

/// <summary>
/// A chat template could not be parsed (the message gives the line and column), failed while
/// rendering (an unknown filter, a bad operand), or called <c>raise_exception</c> (the message is
/// the template's own).
/// </summary>
public sealed class ChatTemplateException(string message) : Exception(message);
