# Mint an end-user token in your backend (Python 3, standard library only; with PyJWT it is
# jwt.encode(claims, api_secret, algorithm="HS256", headers={"kid": api_key})).
# Usage: python3 enduser_token.py <apiKey> <apiSecret> <accountId> <externalId>
import base64, hashlib, hmac, json, sys, time

def b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")

def enduser_token(api_key, api_secret, account_id, external_id, minutes=15):
    now = int(time.time())
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": api_key}).encode())
    claims = b64(json.dumps({"sub": account_id, "iat": now, "exp": now + 60 * minutes,
                             "userData": {"externalId": external_id}}).encode())
    signature = b64(hmac.new(api_secret.encode(), header + b"." + claims, hashlib.sha256).digest())
    return (header + b"." + claims + b"." + signature).decode()

if __name__ == "__main__":
    print(enduser_token(*sys.argv[1:5]))
