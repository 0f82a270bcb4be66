"""The marker manifest the Local provider pushes to create a repository, as literals."""

#: The marker manifest alien pushes, byte for byte (serde_json's compact form), and its digests.
MARKER_MANIFEST = (
    b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'
    b'"config":{"mediaType":"application/vnd.oci.image.config.v1+json",'
    b'"digest":"sha256:7a19147749ce097f32b13072bccba494b5e717d4f23fbde50f7514059e109ad1",'
    b'"size":90},"layers":[],'
    b'"annotations":{"dev.alien.marker":"empty-repository-created-by-alien"}}'
)
MARKER_DIGEST = "sha256:ea2e210d46090d2b8fdc9cd5a07194f756ef23956b5a0bfa4482d4c38808fb75"
MARKER_CONFIG_DIGEST = "sha256:7a19147749ce097f32b13072bccba494b5e717d4f23fbde50f7514059e109ad1"
