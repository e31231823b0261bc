//! EC2 errors → the engine's cloud-neutral `ProviderError`.

use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use peerctl_engine::ProviderError;

/// Maps an SDK error by its EC2 error code, keeping the operation's name.
pub(crate) fn classify<E, R>(operation: &str, error: SdkError<E, R>) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let (code, message) = match &error {
        SdkError::ServiceError(service) => {
            let inner = service.err();
            (inner.code().unwrap_or("Unknown").to_string(), inner.message().unwrap_or("").to_string())
        }
        SdkError::DispatchFailure(_) if describe_chain(&error).contains("credential") => {
            return ProviderError::PermissionDenied(format!(
                "{operation}: no AWS credentials ({}); check the profile, role or environment of this side",
                describe_chain(&error)
            ));
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            return ProviderError::Unavailable(format!("{operation}: {}", describe_chain(&error)));
        }
        _ => return ProviderError::Other(format!("{operation}: {}", describe_chain(&error))),
    };
    let text = if message.is_empty() { format!("{operation}: {code}") } else { format!("{operation}: {code}: {message}") };
    match code.as_str() {
        "RequestLimitExceeded" | "Throttling" | "ThrottlingException" | "TooManyRequestsException" => ProviderError::Throttled(text),
        "InternalError" | "InternalFailure" | "ServiceUnavailable" | "Unavailable" => ProviderError::Unavailable(text),
        "RouteAlreadyExists" | "InvalidPermission.Duplicate" | "VpcPeeringConnectionAlreadyExists" => ProviderError::AlreadyExists(text),
        "UnauthorizedOperation" | "AccessDenied" | "AccessDeniedException" | "AuthFailure" | "InvalidClientTokenId" => {
            ProviderError::PermissionDenied(format!("{}: {text}", iam_action(operation)))
        }
        code if code.ends_with(".NotFound") || code.ends_with(".Malformed") && code.starts_with("InvalidVpcPeeringConnectionID") => {
            ProviderError::NotFound(text)
        }
        _ => ProviderError::Other(text),
    }
}

/// `ec2:CreateRoute` for operation `CreateRoute`: what a policy must allow.
fn iam_action(operation: &str) -> String {
    format!("ec2:{operation}")
}

/// The error and its sources on one line; SDK errors hide the useful part in the chain.
fn describe_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
