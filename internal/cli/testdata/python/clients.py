"""Drives a running rekey server with Azure's official Python clients, as
shipped by Debian's python3-azure: the Azure ML management SDK (api-version
2022-10-01, with azure-mgmt-core's ARMPolling), the Cognitive Services
management SDK (2022-12-01) and the QnA Maker authoring client (msrest,
v5.0-preview.1). Usage: clients.py SERVER_URL ADMIN_TOKEN. TLS trust comes
from REQUESTS_CA_BUNDLE. Exits non-zero on the first failed check."""

import sys
import time

from azure.cognitiveservices.knowledge.qnamaker import QnAMakerClient
from azure.cognitiveservices.knowledge.qnamaker.models import ErrorResponseException, EndpointSettingsDTOActiveLearning
from azure.core.credentials import AccessToken
from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient
from azure.mgmt.machinelearningservices import MachineLearningServicesMgmtClient
from msrest.authentication import CognitiveServicesCredentials

server, token = sys.argv[1], sys.argv[2]
sub, rg = "22222222-3333-4444-5555-666666666666", "python"


class AdminToken:
    """A TokenCredential that hands out rekey's admin token."""

    def get_token(self, *scopes, **kwargs):
        return AccessToken(token, int(time.time()) + 3600)


def check(ok, what):
    if not ok:
        print("FAILED:", what)
        sys.exit(1)
    print("ok:", what)


ml = MachineLearningServicesMgmtClient(AdminToken(), sub, base_url=server)
ml.workspaces.begin_create_or_update(rg, "pyws", {"location": "eastus"}).result()
ep = ml.online_endpoints.begin_create_or_update(
    rg, "pyws", "py-ep", {"location": "eastus", "properties": {"authMode": "Key"}}).result()
check(ep.properties.provisioning_state == "Succeeded", "ML endpoint created through ARMPolling")
k0 = ml.online_endpoints.list_keys(rg, "pyws", "py-ep")
ml.online_endpoints.begin_regenerate_keys(rg, "pyws", "py-ep", {"keyType": "Primary"}).result()
k1 = ml.online_endpoints.list_keys(rg, "pyws", "py-ep")
check(k1.primary_key != k0.primary_key and k1.secondary_key == k0.secondary_key, "regenerate Primary changes only the primary key")
# What azure-ai-ml sends: the current key as keyValue, meaning "a fresh key".
ml.online_endpoints.begin_regenerate_keys(rg, "pyws", "py-ep", {"keyType": "Secondary", "keyValue": k1.secondary_key}).result()
k2 = ml.online_endpoints.list_keys(rg, "pyws", "py-ep")
check(k2.secondary_key != k1.secondary_key and k2.primary_key == k1.primary_key, "keyValue equal to the current key regenerates")
names = [e.name for e in ml.online_endpoints.list(rg, "pyws")]
check(names == ["py-ep"], "endpoints listed")
ml.online_endpoints.begin_delete(rg, "pyws", "py-ep").result()
check([e.name for e in ml.online_endpoints.list(rg, "pyws")] == [], "endpoint deleted through LocationPolling")

cs = CognitiveServicesManagementClient(AdminToken(), sub, base_url=server)
acc = cs.accounts.begin_create(rg, "pyqna", {
    "location": "westus", "kind": "QnAMaker", "sku": {"name": "S0"},
    "properties": {"apiProperties": {"qnaRuntimeEndpoint": "http://127.0.0.1:9"}},
}).result()
check(acc.properties.endpoint.endswith("/"), "QnAMaker account created; its endpoint ends in /")
check(acc.properties.provisioning_state == "Succeeded", "account creation polled through AzureAsyncOperationPolling to Succeeded")
keys = cs.accounts.list_keys(rg, "pyqna")

# The QnA client joins the endpoint with /qnamaker/v5.0-preview.1: "…//qnamaker/…".
qna = QnAMakerClient(acc.properties.endpoint, CognitiveServicesCredentials(keys.key1))
before = qna.endpoint_keys.get_keys()
after = qna.endpoint_keys.refresh_keys("PrimaryKey")  # empty body, no Content-Type
check(after.primary_endpoint_key != before.primary_endpoint_key
      and after.secondary_endpoint_key == before.secondary_endpoint_key, "refresh_keys(PrimaryKey) changes only that key")
qna.endpoint_settings.update_settings(active_learning=EndpointSettingsDTOActiveLearning(enable="True"))
check(qna.endpoint_settings.get_settings().active_learning.enable == "True", "endpoint settings stored (PATCH answered 204)")

new = cs.accounts.regenerate_key(rg, "pyqna", "Key1")
check(new.key1 != keys.key1 and new.key2 == keys.key2, "regenerate_key(Key1) changes only key1")
try:
    qna.endpoint_keys.get_keys()
    check(False, "the old key1 is refused")
except ErrorResponseException as e:
    check(e.response.status_code == 401 and e.error.error.code == "Unauthorized", "the old key1 is refused with 401 Unauthorized")
qna2 = QnAMakerClient(acc.properties.endpoint, CognitiveServicesCredentials(keys.key2))
check(qna2.endpoint_keys.get_keys().primary_endpoint_key == after.primary_endpoint_key, "key2 still works")
cs.accounts.begin_delete(rg, "pyqna").result()
print("all checks passed")
